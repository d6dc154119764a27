import Foundation
import Redis
import RoutingCore

/// The per-integration circuit breakers every router replica and worker shares, in Redis
/// (scenario 4): "down" after 3 consecutive failures within 1 minute, "up" again after 3
/// consecutive successes. A transition updates the tenant's health hash (what routing reads)
/// and the tenant's transition log (same Redis Cluster slot) in the same script; the caller then
/// appends the transition to the audit stream, which the audit-worker copies to Postgres.
public struct CircuitBreaker: Sendable {
    public let keys: RoutingKeys
    public let threshold: Int
    public let windowMs: Int

    public init(keys: RoutingKeys, threshold: Int = 3, windowMs: Int = 60_000) {
        self.keys = keys
        self.threshold = threshold
        self.windowMs = windowMs
    }

    /// What one call to an integration did.
    public enum Outcome: String, Sendable { case success = "ok", failure = "fail" }

    /// KEYS: breaker hash, health hash, transition log, per-minute outcome counts. ARGV: integration, ok|fail, threshold,
    /// window ms, tenant, reason. Returns the transition's JSON, else nil. Time is Redis's.
    static let script = RedisScript("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local b = redis.call('HMGET', KEYS[1], 'state', 'fails', 'first', 'oks')
        local state = b[1] or 'up'
        local fails, first, oks = tonumber(b[2] or '0'), tonumber(b[3] or '0'), tonumber(b[4] or '0')
        local n, window = tonumber(ARGV[3]), tonumber(ARGV[4])
        local new = state
        local minute = math.floor(now / 60000)
        redis.call('HINCRBY', KEYS[4], minute .. ':' .. ARGV[2], 1)
        redis.call('EXPIRE', KEYS[4], 900)
        if ARGV[2] == 'fail' then
          oks = 0
          if fails == 0 or now - first > window then fails = 1; first = now else fails = fails + 1 end
          if state ~= 'down' and fails >= n then new = 'down' end
        else
          fails = 0; first = 0
          if state == 'down' then
            oks = oks + 1
            if oks >= n then new = 'up'; oks = 0 end
          end
        end
        redis.call('HSET', KEYS[1], 'state', new, 'fails', fails, 'first', first, 'oks', oks)
        if new == state then return false end
        redis.call('HSET', KEYS[1], 'changed', now)
        redis.call('HSET', KEYS[2], ARGV[1], new)
        local chain = cjson.encode({kind = 'breaker', tenant = ARGV[5], integration = ARGV[1], from = state, to = new,
                                    at = now, reason = ARGV[6]})
        redis.call('LPUSH', KEYS[3], chain)
        redis.call('LTRIM', KEYS[3], 0, 999)
        return chain
        """)

    /// A state change, as recorded.
    public struct Transition: Sendable, Codable {
        public let integration: String
        public let from: String
        public let to: String
        /// Milliseconds since 1970 (Redis time).
        public let at: Int
        public let reason: String
    }

    /// Records one call's outcome; returns the transition when this call changed the state.
    @discardableResult
    public func record(_ outcome: Outcome, integration: String, tenant: String, reason: String = "", redis: some RedisPipelining) async throws -> Transition? {
        let reply = try await redis.run(Self.script, keys: keys(tenant, integration), args: args(outcome, integration, tenant, reason))
        guard let json = reply.string, let transition = try? JSONDecoder().decode(Transition.self, from: Data(json.utf8)) else { return nil }
        try await redis.send(["XADD", keys.auditStream, "MAXLEN", "~", "10000000", "*", "kind", "breaker", "tenant", tenant, "call", "", "caller", "", "chain", json])
        return transition
    }

    /// Calls to an integration in the last `minutes` minutes (Redis time) and how many failed.
    public func failureRate(tenant: String, integration: String, minutes: Int = 5, redis: some RedisPipelining) async throws -> (calls: Int, failed: Int) {
        let replies = try await redis.pipeline([["HGETALL", keys.outcomeCounts(tenant, integration)], ["TIME"]])
        let now = replies[1].timeMs / 60_000
        let items = replies[0].array ?? []
        var calls = 0, failed = 0
        for i in stride(from: 0, to: items.count - 1, by: 2) {
            guard let field = items[i].string, let n = items[i + 1].int else { continue }
            let parts = field.split(separator: ":")
            guard parts.count == 2, let minute = Int(parts[0]), now - minute < minutes else { continue }
            calls += n
            if parts[1] == "fail" { failed += n }
        }
        return (calls, failed)
    }

    /// The tenant's recorded transitions, newest first.
    public func transitions(tenant: String, redis: some RedisPipelining, limit: Int = 100) async throws -> [Transition] {
        let items = try await redis.send(["LRANGE", keys.breakerLog(tenant), "0", String(max(0, limit - 1))]).array ?? []
        return items.compactMap { $0.string.flatMap { try? JSONDecoder().decode(Transition.self, from: Data($0.utf8)) } }
    }

    private func keys(_ tenant: String, _ integration: String) -> [String] {
        [keys.breaker(tenant, integration), keys.health(tenant), keys.breakerLog(tenant), keys.outcomeCounts(tenant, integration)]
    }

    private func args(_ outcome: Outcome, _ integration: String, _ tenant: String, _ reason: String) -> [String] {
        [integration, outcome.rawValue, String(threshold), String(windowMs), tenant, reason]
    }
}
