import Basics
import NIOConcurrencyHelpers
import NIOCore
import Redis
import Routing
import RoutingCore
import Vault

/// The router's tenants' lead-cache keys: opened once from the `personal-keys` hash (each
/// tenant's personal-data keys sealed with a master key, published by the writers and the access
/// sync) and kept in memory, since they never change (a data key rotation re-wraps them). A
/// tenant without published keys, or a router without master keys, reads no lead (every call is
/// a cache miss) and is asked again after a second.
final class TenantLeadKeys: Sendable {
    let keyRing: MasterKeyRing?
    let keys: RoutingKeys
    private let known = NIOLockedValueBox<[String: SealedLeads]>([:])
    private let missing: TTLCache<String, Bool>

    init(keyRing: MasterKeyRing?, keys: RoutingKeys, retryMs: Int = 1000) {
        self.keyRing = keyRing
        self.keys = keys
        self.missing = TTLCache(ttlMs: retryMs, capacity: 100_000)
    }

    /// How a tenant's audit chains are sealed for the stream: with its keys when known, else with
    /// the master key (plain only without master keys).
    func sealer(_ leads: SealedLeads?) -> ChainSealer {
        if let leads { return .personal(leads.personal) }
        return keyRing.map { .masterKey($0) } ?? .none
    }

    /// What this router knows without asking Redis: `.some(keys)` when they are in memory (the
    /// hot path's case), `.some(nil)` when the tenant was found without keys within the last
    /// second (calls go on without them), nil when `load` must ask.
    func known(_ tenant: String) -> SealedLeads?? {
        if let leads = known.withLockedValue({ $0[tenant] }) { return .some(leads) }
        return missing.value(for: tenant) != nil ? .some(nil) : nil
    }

    /// Reads and opens the tenant's keys from Redis; nil when there are none (or none this router can open).
    func load(_ tenant: String, redis: EventLoopRedisClient, on eventLoop: any EventLoop) -> EventLoopFuture<SealedLeads?> {
        guard let keyRing else {
            missing.set(true, for: tenant)
            return eventLoop.makeSucceededFuture(nil)
        }
        return redis.pipeline([["HGET", keys.personalKeys, tenant]], on: eventLoop).map { replies in
            guard let sealed = replies.first?.string,
                  let personal = try? RouterPersonalKeys.open(sealed, tenant: tenant, keyRing: keyRing) else {
                self.missing.set(true, for: tenant)
                return nil
            }
            let leads = SealedLeads(tenant: tenant, keys: self.keys, personal: personal)
            self.known.withLockedValue { $0[tenant] = leads }
            return leads
        }
    }
}
