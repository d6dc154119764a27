import Basics
import Foundation
import Postgres
import Redis
import RoutingCore

/// A tenant's routing rules kept durably (FR41–FR45): every saved version and every change
/// (who, when, before/after) in Postgres; the active version published to Redis, where every
/// router replica switches to it on its next call.
public struct RuleVersions: Sendable {
    public let redis: RedisClient
    public let postgres: PostgresClient?
    public let keys: RoutingKeys

    /// `postgres` may be nil for tools that only publish to Redis; versions need it.
    public init(redis: RedisClient, postgres: PostgresClient?, keys: RoutingKeys) {
        self.redis = redis
        self.postgres = postgres
        self.keys = keys
    }

    /// One saved version.
    public struct Version: Sendable, Encodable {
        public let version: Int
        public let createdBy: String
        public let createdAt: String
        public let note: String?
        public let active: Bool
        public let rules: RoutingRules
    }

    /// One entry of the change log.
    public struct Change: Sendable, Encodable {
        public let at: String
        public let actor: String
        public let action: String
        public let version: Int
        public let before: RoutingRules?
        public let after: RoutingRules
    }

    private func database() throws -> PostgresClient {
        guard let postgres else { throw RoutingError(.invalidInput, "rule versions need Postgres (SB_POSTGRES_URL)") }
        return postgres
    }

    static func json(_ rules: RoutingRules) throws -> String { try JSONEncoder.sortedText(rules) }

    static func decode(_ text: String?) -> RoutingRules? {
        text.flatMap { try? JSONDecoder().decode(RoutingRules.self, from: Data($0.utf8)) }
    }

    /// Validates and stores rules as the tenant's next version (not yet active); returns it.
    public func save(_ rules: RoutingRules, tenant: String, actor: String, note: String? = nil) async throws -> Int {
        try TenantID.check(tenant)
        try rules.validate()
        let json = try Self.json(rules)
        return try await database().transaction { db in
            _ = try db.query("SELECT pg_advisory_xact_lock(hashtext('routing:' || $1))", [tenant])
            let latest = try db.query("SELECT version, rules::text AS rules FROM routing_rule_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1", [tenant])
            let version = (latest.value(0, "version").flatMap { Int($0) } ?? 0) + 1
            _ = try db.query("INSERT INTO routing_rule_versions (tenant_id, version, rules, created_by, note) VALUES ($1, $2, $3::jsonb, $4, $5)",
                             [tenant, String(version), json, actor, note])
            _ = try db.query("INSERT INTO routing_rule_changes (tenant_id, actor, action, version, before, after) VALUES ($1, $2, 'save', $3, $4::jsonb, $5::jsonb)",
                             [tenant, actor, String(version), latest.value(0, "rules"), json])
            return version
        }
    }

    /// Makes a saved version the active one: recorded in Postgres, then published to Redis.
    public func activate(tenant: String, version: Int, actor: String) async throws {
        try TenantID.check(tenant)
        try Self.checkVersion(version)
        let json: String = try await database().transaction { db in
            _ = try db.query("SELECT pg_advisory_xact_lock(hashtext('routing:' || $1))", [tenant])
            let chosen = try db.query("SELECT rules::text AS rules FROM routing_rule_versions WHERE tenant_id = $1 AND version = $2", [tenant, String(version)])
            guard let rules = chosen.value(0, "rules") else {
                throw RoutingError(.invalidInput, "tenant \(tenant) has no rules version \(version)")
            }
            // A version saved by an older release may no longer validate: refuse to activate it.
            guard let decoded = Self.decode(rules) else { throw RoutingError(.invalidRules, "version \(version) is not a readable rules document") }
            try decoded.validate()
            let before = try db.query("""
                SELECT v.rules::text AS rules FROM routing_active_rules a
                JOIN routing_rule_versions v ON v.tenant_id = a.tenant_id AND v.version = a.version WHERE a.tenant_id = $1
                """, [tenant])
            _ = try db.query("""
                INSERT INTO routing_active_rules (tenant_id, version, activated_by) VALUES ($1, $2, $3)
                ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version, activated_by = EXCLUDED.activated_by, activated_at = now()
                """, [tenant, String(version), actor])
            _ = try db.query("INSERT INTO routing_rule_changes (tenant_id, actor, action, version, before, after) VALUES ($1, $2, 'activate', $3, $4::jsonb, $5::jsonb)",
                             [tenant, actor, String(version), before.value(0, "rules"), rules])
            return try Self.json(decoded)
        }
        try await publishToRedis(tenant: tenant, version: version, json: json)
    }

    /// Saves and activates in one step; returns the new version. With `ifChanged`, rules equal
    /// to the active version are left as they are (its version is returned).
    public func publish(_ rules: RoutingRules, tenant: String, actor: String, note: String? = nil, ifChanged: Bool = false) async throws -> Int {
        if ifChanged, let active = try await versions(tenant: tenant).first(where: \.active), active.rules == rules {
            try await publishToRedis(tenant: tenant, version: active.version, json: try Self.json(rules))
            return active.version
        }
        let version = try await save(rules, tenant: tenant, actor: actor, note: note)
        try await activate(tenant: tenant, version: version, actor: actor)
        return version
    }

    /// Pushes the active version from Postgres to Redis again (after a Redis loss); false when
    /// the tenant has none.
    public func republish(tenant: String) async throws -> Bool {
        let rows = try await database().query("""
            SELECT a.version, v.rules::text AS rules FROM routing_active_rules a
            JOIN routing_rule_versions v ON v.tenant_id = a.tenant_id AND v.version = a.version WHERE a.tenant_id = $1
            """, [tenant])
        guard let version = rows.value(0, "version").flatMap({ Int($0) }), let rules = Self.decode(rows.value(0, "rules")) else { return false }
        try await publishToRedis(tenant: tenant, version: version, json: try Self.json(rules))
        return true
    }

    /// Versions are Postgres `integer`s from 1: anything else is the caller's mistake (a 400),
    /// never a query Postgres refuses.
    static func checkVersion(_ version: Int) throws(RoutingError) {
        guard (1...Int(Int32.max)).contains(version) else { throw RoutingError(.invalidInput, "rules version must be 1-\(Int32.max), not \(version)") }
    }

    /// One HSET of version and rules: every replica sees both or neither.
    private func publishToRedis(tenant: String, version: Int, json: String) async throws {
        try await redis.send(["HSET", keys.rules(tenant), "json", json, "version", String(version)])
    }

    /// The tenant's versions, newest first, or one version.
    public func versions(tenant: String, version: Int? = nil) async throws -> [Version] {
        try TenantID.check(tenant)
        if let version { try Self.checkVersion(version) }
        let rows = try await database().query("""
            SELECT v.version, v.created_by, to_char(v.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at, v.note,
                   (a.version IS NOT NULL) AS active, v.rules::text AS rules
            FROM routing_rule_versions v LEFT JOIN routing_active_rules a ON a.tenant_id = v.tenant_id AND a.version = v.version
            WHERE v.tenant_id = $1 AND ($2::integer IS NULL OR v.version = $2::integer) ORDER BY v.version DESC
            """, [tenant, version.map(String.init)])
        return rows.records.compactMap { r in
            guard let v = (r["version"] ?? nil).flatMap({ Int($0) }), let rules = Self.decode(r["rules"] ?? nil) else { return nil }
            return Version(version: v, createdBy: (r["created_by"] ?? nil) ?? "", createdAt: (r["created_at"] ?? nil) ?? "",
                           note: r["note"] ?? nil, active: (r["active"] ?? nil) == "t", rules: rules)
        }
    }

    /// The change log, newest first.
    public func changes(tenant: String, limit: Int = 50) async throws -> [Change] {
        try TenantID.check(tenant)
        let rows = try await database().query("""
            SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, actor, action, version, before::text AS before, after::text AS after
            FROM routing_rule_changes WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2
            """, [tenant, String(max(1, min(limit, 1000)))])
        return rows.records.compactMap { r in
            guard let v = (r["version"] ?? nil).flatMap({ Int($0) }), let after = Self.decode(r["after"] ?? nil) else { return nil }
            return Change(at: (r["at"] ?? nil) ?? "", actor: (r["actor"] ?? nil) ?? "", action: (r["action"] ?? nil) ?? "", version: v,
                          before: Self.decode(r["before"] ?? nil), after: after)
        }
    }
}
