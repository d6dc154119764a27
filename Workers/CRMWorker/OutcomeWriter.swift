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
/// acknowledged only after Braze accepted them; on a 429 the writer waits as told, on other
/// failures it backs off; unacknowledged entries are read again, so nothing is dropped.
public struct OutcomeWriter: Service {
    public let cache: LeadCache
    public let consumer: String
    public static let group = "braze-writeback"
    let sent = Counter(label: "switchboard_outcomes_written_total")
    let logger = Logger(label: "switchboard.outcome-writer")

    public init(cache: LeadCache, consumer: String) {
        self.cache = cache
        self.consumer = consumer
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

    public func run() async throws {
        let redis = cache.access.redis
        let stream = cache.access.keys.outcomes
        var backoffMs = 500
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                do { try await redis.send(["XGROUP", "CREATE", stream, Self.group, "0", "MKSTREAM"]) } catch let e as RedisError where e.message.hasPrefix("BUSYGROUP") {}
                var entries = RedisStreamEntry.fromRead(try await redis.send(["XREADGROUP", "GROUP", Self.group, consumer, "COUNT", "750", "STREAMS", stream, "0"]))
                if entries.isEmpty {
                    let reply = try await redis.withConnection { c in
                        try c.withTimeout(ms: 6000) { try c.send(["XREADGROUP", "GROUP", Self.group, self.consumer, "COUNT", "750", "BLOCK", "1000", "STREAMS", stream, ">"]) }
                    }
                    entries = RedisStreamEntry.fromRead(reply)
                }
                if entries.isEmpty { continue }
                try await write(entries)
                backoffMs = 500
            } catch let failure as JobFailure {
                if case .rateLimited(let ms) = failure.code {
                    await gracefulPause(ms: ms)
                } else {
                    logger.warning("outcome write-back failed, will retry", metadata: ["error": "\(failure)", "retryMs": "\(backoffMs)"])
                    await gracefulPause(ms: backoffMs)
                    backoffMs = min(backoffMs * 2, 60_000)
                }
            } catch {
                logger.warning("outcome write-back failed, will retry", metadata: ["error": "\(error)", "retryMs": "\(backoffMs)"])
                await gracefulPause(ms: backoffMs)
                backoffMs = min(backoffMs * 2, 60_000)
            }
        }
    }

    func write(_ entries: [RedisStreamEntry]) async throws {
        let redis = cache.access.redis
        let stream = cache.access.keys.outcomes
        var byTenant: [String: [(String, Outcome)]] = [:]
        var malformed: [String] = []
        for entry in entries {
            guard let text = entry.fields["outcome"], let outcome = try? JSONDecoder().decode(Outcome.self, from: Data(text.utf8)) else {
                malformed.append(entry.id)
                continue
            }
            byTenant[outcome.tenant, default: []].append((entry.id, outcome))
        }
        if !malformed.isEmpty {
            logger.error("malformed outcome entries skipped", metadata: ["ids": "\(malformed)"])
            _ = try await redis.pipeline([["XACK", stream, Self.group] + malformed])
        }
        let iso = ISO8601DateFormatter()
        for (tenant, items) in byTenant {
            let (_, client, _) = try await cache.braze(tenant)
            for start in stride(from: 0, to: items.count, by: BrazeClient.trackBatch) {
                let batch = items[start..<min(items.count, start + BrazeClient.trackBatch)]
                var events: [BrazeClient.Event] = []
                var attributes: [BrazeClient.AttributeUpdate] = []
                for (_, o) in batch {
                    let time = iso.string(from: Date(timeIntervalSince1970: Double(o.at) / 1000))
                    let properties = BrazeClient.Event.Properties(outcome: o.outcome, callId: o.callId, dialer: o.dialer, agent: o.agent,
                                                                  durationSeconds: o.durationSeconds)
                    events.append(BrazeClient.Event(phone: o.phone, name: "switchboard_call", time: time, properties: properties))
                    attributes.append(BrazeClient.AttributeUpdate(phone: o.phone, lastCallOutcome: o.outcome, lastCallAt: time))
                }
                try await client.track(attributes: attributes, events: events)
                let ids = batch.map(\.0)
                _ = try await redis.pipeline([["XACK", stream, Self.group] + ids, ["XDEL", stream] + ids])
                sent.increment(by: ids.count)
            }
        }
    }
}
