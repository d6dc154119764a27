import Redis
import RoutingCore

/// The one reader (and writer) of the dialer state every router and worker shares in Redis:
/// the health hash the circuit breakers keep (dialer id → up / down / unknown) and the capacity
/// hash the poller keeps (dialer id → "<free agents>|<measured at, ms>").
public struct DialerState: Sendable {
    public let keys: RoutingKeys

    public init(keys: RoutingKeys) { self.keys = keys }

    /// Health from an HGETALL reply of the health hash (unknown words read as `.unknown`).
    public static func health(from reply: RedisValue) -> [String: RoutingInput.Health] {
        var health: [String: RoutingInput.Health] = [:]
        for (dialer, state) in reply.hash { health[dialer] = RoutingInput.Health(rawValue: state) ?? .unknown }
        return health
    }

    /// Free agents per dialer as routing uses them: nil where the reading is missing, malformed
    /// or older than `staleMs` at `nowMs` (scenario 3).
    public static func freeAgents(from reply: RedisValue, nowMs: Int, staleMs: Int) -> [String: Int?] {
        reply.hash.mapValues { value in
            let parts = value.split(separator: "|")
            guard parts.count == 2, let free = Int(parts[0]), let at = Int(parts[1]), nowMs - at <= staleMs else { return nil }
            return free
        }
    }

    /// The command that reads one integration's health, to send in a caller's own pipeline;
    /// read its reply with `health(fromField:)`.
    public func healthCommand(tenant: String, integration: String) -> [String] { ["HGET", keys.health(tenant), integration] }

    /// One integration's health from the reply to `healthCommand` (none recorded: `.unknown`).
    public static func health(fromField reply: RedisValue) -> RoutingInput.Health {
        reply.string.flatMap(RoutingInput.Health.init(rawValue:)) ?? .unknown
    }

    /// The commands that read a tenant's whole health and capacity hashes, to send in a caller's
    /// own pipeline; read the replies with `health(from:)` and `freeAgents(from:nowMs:staleMs:)`.
    public func stateCommands(tenant: String) -> [[String]] { [["HGETALL", keys.health(tenant)], ["HGETALL", keys.capacity(tenant)]] }

    /// The tenant's dialer health as the breakers last declared it.
    public func health(tenant: String, redis: some RedisPipelining) async throws -> [String: RoutingInput.Health] {
        Self.health(from: try await redis.send(["HGETALL", keys.health(tenant)]))
    }

    /// The health of one integration of each (tenant, id) pair, in one round trip.
    public func health(of integrations: [(tenant: String, id: String)], redis: some RedisPipelining) async throws -> [RoutingInput.Health] {
        guard !integrations.isEmpty else { return [] }
        let replies = try await redis.pipeline(integrations.map { healthCommand(tenant: $0.tenant, integration: $0.id) })
        return replies.map(Self.health(fromField:))
    }

    /// Records a capacity reading taken now (Redis time).
    public func recordCapacity(tenant: String, dialer: String, freeAgents: Int, redis: some RedisPipelining) async throws {
        let now = try await redis.send(["TIME"]).timeMs
        try await redis.send(["HSET", keys.capacity(tenant), dialer, "\(freeAgents)|\(now)"])
    }
}
