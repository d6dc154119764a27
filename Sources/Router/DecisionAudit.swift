import Logging
import Metrics
import NIOCore
import Redis
import Routing

/// Appends decision chains to the audit stream in batches: the chains decided in one event-loop
/// tick go out as one stream entry (`kind decisions`, at most `batch` chains), each tenant's
/// chains of the tick sealed together as one line (`SealedChain`: one seal per tenant and tick,
/// not per call),
/// encoded straight from their JSON bytes and sent on the same ordered connection with its next
/// flush (at most 0.5 ms later) — no added latency for calls, one Redis command instead of one per
/// call and no round trip of its own. The audit-worker splits them into one row per decision.
final class DecisionAudit: Sendable {
    let redis: EventLoopRedisClient
    let stream: String
    /// Most chains per stream entry.
    static let batch = 500
    private let buffers: [ObjectIdentifier: Buffer]
    private let failures = Counter(label: "switchboard_audit_append_failures_total")
    private let logger = Logger(label: "switchboard.route.audit")

    /// One event loop's pending chains, by tenant (newline-separated JSON); touched only on that loop.
    private final class Buffer: @unchecked Sendable {
        var groups: [Group] = []
        var count = 0
    }

    /// One tenant's chains of the tick and how they are sealed.
    private struct Group {
        let tenant: String
        let sealer: ChainSealer
        var chains: [UInt8]
    }

    init(redis: EventLoopRedisClient, stream: String) {
        self.redis = redis
        self.stream = stream
        var buffers: [ObjectIdentifier: Buffer] = [:]
        for loop in redis.eventLoops { buffers[ObjectIdentifier(loop)] = Buffer() }
        self.buffers = buffers
    }

    /// Queues a tenant's chain (JSON text), sealed with `sealer` when it is sent; the first one of
    /// a tick schedules the send.
    func append(_ chain: [UInt8], tenant: String, sealer: ChainSealer, on eventLoop: any EventLoop) {
        guard eventLoop.inEventLoop, let buffer = buffers[ObjectIdentifier(eventLoop)] else {
            send(sealer.line(chain, tenant: tenant), count: 1, on: eventLoop)
            return
        }
        if let i = buffer.groups.firstIndex(where: { $0.tenant == tenant }) {
            buffer.groups[i].chains.append(UInt8(ascii: "\n"))
            buffer.groups[i].chains.append(contentsOf: chain)
        } else {
            buffer.groups.append(Group(tenant: tenant, sealer: sealer, chains: chain))
        }
        buffer.count += 1
        if buffer.count == Self.batch {
            send(buffer, on: eventLoop)
        } else if buffer.count == 1 {
            eventLoop.execute { self.send(buffer, on: eventLoop) }
        }
    }

    private func send(_ buffer: Buffer, on eventLoop: any EventLoop) {
        guard buffer.count > 0 else { return }
        let (groups, count) = (buffer.groups, buffer.count)
        buffer.groups = []
        buffer.count = 0
        var lines: [UInt8] = []
        for group in groups {
            if !lines.isEmpty { lines.append(UInt8(ascii: "\n")) }
            lines.append(contentsOf: group.sealer.line(group.chains, tenant: group.tenant))
        }
        send(lines, count: count, on: eventLoop)
    }

    private func send(_ chains: [UInt8], count: Int, on eventLoop: any EventLoop) {
        var command = ByteBufferAllocator().buffer(capacity: chains.count + 128)
        RESPEncoder.write(["XADD", stream, "MAXLEN", "~", "10000000", "*", "kind", "decisions", "count", String(count), "chains"], last: chains, into: &command)
        redis.pipeline(encoded: command, count: 1, on: eventLoop, lazy: true).whenComplete { result in
            switch result {
            case .success(let reply) where reply.first?.string != nil: return
            case .success(let reply): self.failed(count, "\(reply.first.map { "\($0)" } ?? "no reply")")
            case .failure(let error): self.failed(count, "\(error)")
            }
        }
    }

    private func failed(_ count: Int, _ reason: String) {
        failures.increment(by: count)
        logger.error("audit append failed", metadata: ["decisions": "\(count)", "reason": "\(reason)"])
    }
}
