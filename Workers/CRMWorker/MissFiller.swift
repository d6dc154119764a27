import Foundation
import Logging
import Redis
import Routing
import RoutingCore
import VendorClients
import ServiceLifecycle

/// Turns the router's cache misses (a sorted set of `<tenant>|<blind index>` the hot path adds
/// to without waiting, the numbers sealed beside it) into `crm.lookup` jobs, skipping numbers
/// Braze is known not to have or that were cached since.
public struct MissFiller: Service {
    public let cache: LeadCache
    let logger = Logger(label: "switchboard.miss-filler")

    public init(cache: LeadCache) { self.cache = cache }

    public func run() async throws {
        let redis = cache.access.redis
        let keys = cache.access.keys
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var taken: [String] = []
            do {
                let reply = try await redis.send(["ZPOPMIN", keys.misses, "200"])
                let items = reply.array ?? []
                taken = stride(from: 0, to: items.count - 1, by: 2).compactMap { items[$0].string }
                for item in taken {
                    let sealed = try await redis.send(["HGET", keys.missPhones, item]).string
                    // A malformed member or one whose number does not open is dropped with a warning:
                    // retrying it could never succeed.
                    guard let (tenant, index) = SealedLeads.parseMiss(item), let sealed,
                          let leads = try? await cache.leads.leads(tenant),
                          let raw = try? leads.personal.open(sealed), let phone = try? PhoneNumber(parsing: raw) else {
                        logger.warning("dropped an unreadable cache miss", metadata: ["member": "\(item.prefix(80))"])
                        _ = try? await redis.send(["HDEL", keys.missPhones, item])
                        continue
                    }
                    let known = try await redis.pipeline([["EXISTS", keys.noLead(tenant, index: index)], ["EXISTS", keys.lead(tenant, index: index)]])
                    if !known.contains(where: { $0.int == 1 }) { try await cache.enqueueLookup(tenant: tenant, phone: phone) }
                    _ = try await redis.send(["HDEL", keys.missPhones, item])
                }
                if taken.isEmpty { await gracefulPause(ms: 250) }
            } catch {
                // Put back what was taken, so no miss is lost.
                if !taken.isEmpty { _ = try? await redis.send(["ZADD", keys.misses, "NX"] + taken.flatMap { ["0", $0] }) }
                logger.warning("miss fill failed", metadata: ["error": "\(error)"])
                await gracefulPause(ms: 1000)
            }
        }
    }
}
