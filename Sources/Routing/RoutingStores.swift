import Postgres
import Redis
import RoutingCore

/// A tenant's routing configuration as the tools change it (CLI, console, crm-worker, tests):
/// rule versions, tenant access and the router's credentials, on one Redis, one Postgres and one key prefix.
public struct RoutingStores: Sendable {
    public let rules: RuleVersions
    public let access: TenantAccess
    public let credentials: RouterCredentials

    public init(redis: RedisClient, postgres: PostgresClient, keys: RoutingKeys) {
        rules = RuleVersions(redis: redis, postgres: postgres, keys: keys)
        access = TenantAccess(redis: redis, postgres: postgres, keys: keys)
        credentials = RouterCredentials(redis: redis, postgres: postgres, keys: keys)
    }

    public var redis: RedisClient { access.redis }
    public var postgres: PostgresClient { credentials.postgres }
    public var keys: RoutingKeys { access.keys }
}
