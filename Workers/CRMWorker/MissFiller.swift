import Foundation
import Logging
import Redis
import Routing
import RoutingCore
import VendorClients
import ServiceLifecycle

/// Turns the router's cache misses (a sorted set the hot path adds to without waiting) into
/// `crm.lookup` jobs, skipping phones Braze is known not to have or that were cached since.
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
                    let parts = item.split(separator: "|", maxSplits: 1)
                    guard parts.count == 2, let phone = try? PhoneNumber(parsing: String(parts[1])) else { continue }
                    let tenant = String(parts[0])
                    let known = try await redis.pipeline([["EXISTS", keys.noLead(tenant, phone)], ["EXISTS", keys.lead(tenant, phone)]])
                    if known.contains(where: { $0.int == 1 }) { continue }
                    try await cache.enqueueLookup(tenant: tenant, phone: phone)
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
