import Foundation
import Logging
import Metrics
import Queue
import Redis
import Routing
import RoutingCore
import VendorClients
import ServiceLifecycle

/// Writes call outcomes (the router's outcomes stream) back to Braze with `/users/track`, in
/// batches of up to 75 events and 75 attribute updates per request, per tenant. Entries are
/// acknowledged only after Braze accepted them. Each tenant stands alone: a tenant whose Braze
/// answers 429 or 5xx waits (its entries stay pending and are retried when its pause ends) while
/// the others go on; an outcome that can never be written (no Braze integration, rejected
/// credentials, a 4xx for that outcome, a malformed entry) is quarantined with the reason. The
/// consumer name is stable, and entries another consumer left pending are claimed after
/// `claimIdleMs`, so a restart or a dead crm-worker loses nothing.
public struct OutcomeWriter: Service {
    public let cache: LeadCache
    public let quarantine: Quarantine
    public let consumer: String
    public let claimIdleMs: Int
    public static let group = "braze-writeback"
    let sent = Counter(label: "switchboard_outcomes_written_total")
    let quarantined = Counter(label: "switchboard_quarantined_total", dimensions: [("source", "outcome")])
    let logger = Logger(label: "switchboard.outcome-writer")

    public init(cache: LeadCache, quarantine: Quarantine, consumer: String, claimIdleMs: Int = 60_000) {
        self.cache = cache
        self.quarantine = quarantine
        self.consumer = consumer
        self.claimIdleMs = claimIdleMs
    }

    struct Outcome: Decodable {
        let tenant: String
        let callId: String
        let phone: String
        let outcome: String
        let dialer: String?
        let agent: String?
        let durationSeconds: Int?
        let at: Int
    }

    /// One stream entry: its id, its text as read (kept if it is quarantined) and the outcome in it.
    struct Item {
        let id: String
        let text: String
        let outcome: Outcome
    }

    /// Tenants whose Braze asked to wait (or failed), with when to try again and the next backoff.
    struct Paused {
        var until: [String: UInt64] = [:]
        var backoffMs: [String: Int] = [:]

        func isPaused(_ tenant: String, at now: UInt64) -> Bool { (until[tenant] ?? 0) > now }

        mutating func pause(_ tenant: String, ms: Int?, now: UInt64) {
            let next = ms ?? (backoffMs[tenant] ?? 500)
            if ms == nil { backoffMs[tenant] = min(next * 2, 60_000) }
            until[tenant] = now + UInt64(max(1, next)) * 1_000_000
        }

        mutating func resume(_ tenant: String) {
            until[tenant] = nil
            backoffMs[tenant] = nil
        }

        /// When the earliest pause ends (nil when none).
        var nextEnd: UInt64? { until.values.min() }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    public func run() async throws {
        var paused = Paused()
        var nextPendingScan: UInt64 = 0
        var backoffMs = 500
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await prepare()
                if Self.now() >= nextPendingScan {
                    try await claimAbandoned()
                    try await writePending(&paused)
                    nextPendingScan = min(paused.nextEnd ?? .max, Self.now() + 10_000_000_000)
                }
                let fresh = try await readNew()
                if !fresh.isEmpty { try await write(fresh, &paused) }
                if let end = paused.nextEnd { nextPendingScan = min(nextPendingScan, end) }
                backoffMs = 500
            } catch {
                // Redis itself failed: nothing was acknowledged, everything is read again.
                logger.warning("outcome write-back failed, will retry", metadata: ["error": "\(error)", "retryMs": "\(backoffMs)"])
                await gracefulPause(ms: backoffMs)
                backoffMs = min(backoffMs * 2, 60_000)
            }
        }
    }

    func prepare() async throws {
        do {
            try await cache.access.redis.send(["XGROUP", "CREATE", cache.access.keys.outcomes, Self.group, "0", "MKSTREAM"])
        } catch let e as RedisError where e.message.hasPrefix("BUSYGROUP") {}
    }

    /// Takes over the entries other consumers (a crm-worker that died or was renamed) have left
    /// pending for `claimIdleMs`.
    func claimAbandoned() async throws {
        var cursor = "0-0"
        for _ in 0..<100 {
            let reply = try await cache.access.redis.send(["XAUTOCLAIM", cache.access.keys.outcomes, Self.group, consumer, String(claimIdleMs), cursor,
                                                           "COUNT", "750", "JUSTID"])
            guard let parts = reply.array, let next = parts.first?.string else { return }
            cursor = next
            if cursor == "0-0" { return }
        }
    }

    /// Everything this consumer has read but not finished (a restart, a paused tenant), in pages.
    func writePending(_ paused: inout Paused) async throws {
        var cursor = "0"
        for _ in 0..<1000 {
            let entries = RedisStreamEntry.fromRead(try await cache.access.redis.send(["XREADGROUP", "GROUP", Self.group, consumer, "COUNT", "750",
                                                                                    "STREAMS", cache.access.keys.outcomes, cursor]))
            guard let last = entries.last else { return }
            try await write(entries, &paused)
            cursor = last.id
        }
    }

    func readNew() async throws -> [RedisStreamEntry] {
        let stream = cache.access.keys.outcomes
        let reply = try await cache.access.redis.withConnection { c in
            try c.withTimeout(ms: 6000) { try c.send(["XREADGROUP", "GROUP", Self.group, self.consumer, "COUNT", "750", "BLOCK", "1000", "STREAMS", stream, ">"]) }
        }
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return RedisStreamEntry.fromRead(reply)
    }

    /// Writes `entries` tenant by tenant; only Redis failures are thrown. Entries of a paused
    /// tenant stay pending.
    func write(_ entries: [RedisStreamEntry], _ paused: inout Paused) async throws {
        var byTenant: [String: [Item]] = [:]
        var order: [String] = []
        for entry in entries {
            guard let text = entry.fields["outcome"], let outcome = try? JSONDecoder().decode(Outcome.self, from: Data(text.utf8)) else {
                try await setAside([(entry.id, entry.fields["outcome"] ?? "")], tenant: nil, reason: "malformed outcome entry")
                continue
            }
            if byTenant[outcome.tenant] == nil { order.append(outcome.tenant) }
            byTenant[outcome.tenant, default: []].append(Item(id: entry.id, text: text, outcome: outcome))
        }
        for tenant in order where !paused.isPaused(tenant, at: Self.now()) {
            let items = byTenant[tenant] ?? []
            let client: BrazeClient
            do {
                client = try await cache.braze(tenant).1
            } catch let failure as JobFailure where failure.code == .fatal {
                try await setAside(items.map { ($0.id, $0.text) }, tenant: tenant, reason: failure.message)
                continue
            } catch {
                pause(tenant, error, &paused)
                continue
            }
            for start in stride(from: 0, to: items.count, by: BrazeClient.trackBatch) {
                let batch = Array(items[start..<min(items.count, start + BrazeClient.trackBatch)])
                guard try await send(batch, tenant: tenant, client: client, &paused) else { break }
            }
        }
    }

    /// Sends one batch; a 4xx for a batch is narrowed down by halves to the outcomes Braze refuses,
    /// which are quarantined. Returns false when the tenant is now paused.
    private func send(_ batch: [Item], tenant: String, client: BrazeClient, _ paused: inout Paused) async throws -> Bool {
        do {
            try await client.track(attributes: batch.map { Self.attributes($0.outcome) }, events: batch.map { Self.event($0.outcome) })
        } catch let failure as JobFailure where failure.code == .fatal {
            if batch.count == 1 || failure.rejectsCredentials {
                try await setAside(batch.map { ($0.id, $0.text) }, tenant: tenant, reason: failure.message)
                return true
            }
            let middle = batch.count / 2
            for half in [Array(batch[..<middle]), Array(batch[middle...])] {
                guard try await send(half, tenant: tenant, client: client, &paused) else { return false }
            }
            return true
        } catch {
            pause(tenant, error, &paused)
            return false
        }
        paused.resume(tenant)
        let ids = batch.map(\.id)
        _ = try await cache.access.redis.pipeline([["XACK", cache.access.keys.outcomes, Self.group] + ids, ["XDEL", cache.access.keys.outcomes] + ids])
        sent.increment(by: ids.count)
        return true
    }

    private func pause(_ tenant: String, _ error: any Error, _ paused: inout Paused) {
        var ms: Int?
        if let failure = error as? JobFailure, case .rateLimited(let wait) = failure.code { ms = wait }
        paused.pause(tenant, ms: ms, now: Self.now())
        logger.warning("outcome write-back paused for one tenant", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
    }

    /// Keeps the entries in the quarantine, then acknowledges and removes them from the stream.
    private func setAside(_ items: [(id: String, text: String)], tenant: String?, reason: String) async throws {
        for item in items {
            try await quarantine.add(.outcome, tenant: tenant, entryKey: item.id, payload: item.text, reason: reason)
        }
        let ids = items.map(\.id)
        _ = try await cache.access.redis.pipeline([["XACK", cache.access.keys.outcomes, Self.group] + ids, ["XDEL", cache.access.keys.outcomes] + ids])
        quarantined.increment(by: ids.count)
        logger.error("outcomes quarantined", metadata: ["tenant": "\(tenant ?? "?")", "count": "\(ids.count)", "reason": "\(reason)"])
    }

    static func time(_ o: Outcome) -> String {
        let iso = ISO8601DateFormatter()
        return iso.string(from: Date(timeIntervalSince1970: Double(o.at) / 1000))
    }

    static func event(_ o: Outcome) -> BrazeClient.Event {
        let properties = BrazeClient.Event.Properties(outcome: o.outcome, callId: o.callId, dialer: o.dialer, agent: o.agent, durationSeconds: o.durationSeconds)
        return BrazeClient.Event(phone: o.phone, name: "switchboard_call", time: time(o), properties: properties)
    }

    static func attributes(_ o: Outcome) -> BrazeClient.AttributeUpdate {
        BrazeClient.AttributeUpdate(phone: o.phone, lastCallOutcome: o.outcome, lastCallAt: time(o))
    }
}
