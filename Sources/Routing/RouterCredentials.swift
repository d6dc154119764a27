import Basics
import Foundation
import Postgres
import Redis
import RoutingCore
import Vault

/// The router's credentials with their lifecycle: the API keys dialers call it with and the voice
/// platform's auth tokens its webhooks are signed with. Postgres is the source of truth (created,
/// expiring, revoked, by whom); Redis holds what the router reads (`RoutingKeys.apiKeys`,
/// `RoutingKeys.voiceTokens`), written at every change and rebuilt from Postgres by `sync`.
/// Routers keep a resolved key or token in memory for at most `RouterCredentials.routerCacheMs`,
/// so a revocation reaches every router within that time.
public struct RouterCredentials: Sendable {
    public let redis: RedisClient
    public let postgres: PostgresClient
    public let keys: RoutingKeys

    /// How long a router may trust a key or token it resolved (its in-memory cache).
    public static let routerCacheMs = 500

    public init(redis: RedisClient, postgres: PostgresClient, keys: RoutingKeys) {
        self.redis = redis
        self.postgres = postgres
        self.keys = keys
    }

    /// A credential as listed: never the secret itself.
    public struct Info: Sendable, Codable, Equatable {
        public let id: String
        public let tenant: String
        public let label: String
        public let createdBy: String
        public let createdAt: String
        public let expiresAt: String?
        public let revokedAt: String?
        public let revokedBy: String?
        /// `active`, `expired` or `revoked`.
        public let state: String
    }

    // MARK: - API keys

    /// Creates an API key for `tenant`; only its hash is stored, the key is returned once.
    /// `expiresAt` nil: until revoked.
    public func createAPIKey(tenant: String, label: String = "", createdBy: String, expiresAt: Date? = nil) async throws -> (info: Info, key: String) {
        try TenantID.check(tenant)
        try Self.checkLabel(label)
        if let expiresAt, expiresAt <= Date() { throw RoutingError(.invalidInput, "an API key's expiry must be in the future") }
        let key = APIKey.generate(), id = "ak_" + Hex.random(bytes: 6)
        try await ensureTenant(tenant)
        let rows = try await postgres.query("""
            INSERT INTO router_api_keys (id, tenant_id, key_sha256, label, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz)
            RETURNING \(Self.columns)
            """, [id, tenant, APIKey.hash(key), label, createdBy, expiresAt.map(Timestamp.fractionalString)])
        guard let info = rows.records.first.flatMap(Self.info) else { throw RoutingError(.invalidInput, "the API key was not stored") }
        try await redis.send(["HSET", keys.apiKeys, APIKey.hash(key), Self.cacheValue(tenant: tenant, expiresAt: expiresAt)])
        return (info, key)
    }

    /// The tenant's API keys, newest first.
    public func apiKeys(tenant: String) async throws -> [Info] {
        try await list(.apiKeys, tenant: tenant)
    }

    /// The two tables of credentials (spliced into SQL: fixed names only).
    private enum Table: String {
        case apiKeys = "router_api_keys", voiceTokens = "voice_tokens"
    }

    private func list(_ table: Table, tenant: String) async throws -> [Info] {
        try TenantID.check(tenant)
        return try await postgres.query("SELECT \(Self.columns) FROM \(table.rawValue) WHERE tenant_id = $1 ORDER BY created_at DESC, id",
                                        [tenant]).records.compactMap(Self.info)
    }

    /// Marks one credential revoked (kept as first revoked); the stored row, nil when the tenant has none with that id.
    private func revoke(_ table: Table, tenant: String, id: String, by actor: String, returning extra: String = "") async throws -> [String: String?]? {
        try TenantID.check(tenant)
        return try await postgres.query("""
            UPDATE \(table.rawValue) SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $3)
            WHERE tenant_id = $1 AND id = $2 RETURNING \(extra)\(Self.columns)
            """, [tenant, id, actor]).records.first
    }

    /// Revokes one of the tenant's API keys at once; nil when the tenant has no such key.
    public func revokeAPIKey(tenant: String, id: String, by actor: String) async throws -> Info? {
        guard let record = try await revoke(.apiKeys, tenant: tenant, id: id, by: actor, returning: "key_sha256, "),
              let hash = record["key_sha256"] ?? nil else { return nil }
        try await redis.send(["HDEL", keys.apiKeys, hash])
        return Self.info(record)
    }

    /// Replaces an API key: a new key with the same label, and the old one kept working for
    /// `overlapSeconds` (0: revoked at once) so dialers can be switched over.
    public func rotateAPIKey(tenant: String, id: String, overlapSeconds: Int, by actor: String) async throws -> (info: Info, key: String)? {
        guard (0...30 * 86_400).contains(overlapSeconds) else { throw RoutingError(.invalidInput, "the overlap must be between 0 and 30 days") }
        guard let old = try await apiKeys(tenant: tenant).first(where: { $0.id == id }), old.state == "active" else { return nil }
        let new = try await createAPIKey(tenant: tenant, label: old.label, createdBy: actor,
                                         expiresAt: old.expiresAt.flatMap(Timestamp.parse))
        if overlapSeconds == 0 {
            _ = try await revokeAPIKey(tenant: tenant, id: id, by: actor)
        } else {
            let rows = try await postgres.query("""
                UPDATE router_api_keys SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3::integer))
                WHERE tenant_id = $1 AND id = $2 RETURNING key_sha256, (extract(epoch FROM expires_at) * 1000)::bigint AS ms
                """, [tenant, id, String(overlapSeconds)])
            if let hash = rows.value(0, "key_sha256"), let ms = rows.value(0, "ms").flatMap({ Int64($0) }) {
                try await redis.send(["HSET", keys.apiKeys, hash, "\(tenant)|\(ms)"])
            }
        }
        return new
    }

    // MARK: - Voice tokens

    /// Sets the tenant's voice-platform token (sealed with its data key in Postgres, with a master
    /// key in Redis for the router). The tokens live until now stay valid `overlapSeconds` longer
    /// (0: replaced at once), so the platform can be switched over without refused webhooks.
    /// With `ifChanged`, nothing changes when `token` is already the current one (`changed` false).
    public func setVoiceToken(tenant: String, token: String, overlapSeconds: Int = 0, by actor: String, vault: CredentialVault,
                              ifChanged: Bool = false) async throws -> (token: Info, changed: Bool) {
        try TenantID.check(tenant)
        guard token.utf8.count >= 16, token.utf8.count <= 256, UntrustedText.problem(token, maxBytes: 256) == nil,
              !token.contains(where: { $0.isWhitespace }) else {
            throw RoutingError(.invalidInput, "the voice token must be 16 to 256 printable characters without spaces")
        }
        guard (0...30 * 86_400).contains(overlapSeconds) else { throw RoutingError(.invalidInput, "the overlap must be between 0 and 30 days") }
        if ifChanged, let current = try await voiceTokens(tenant: tenant).first(where: { $0.state == "active" && $0.expiresAt == nil }) {
            let sealed = try await postgres.query("SELECT sealed FROM voice_tokens WHERE id = $1", [current.id]).value(0, "sealed")
            if let sealed, try await vault.open(sealed, tenant: tenant) == token {
                try await cacheVoiceTokens(tenant: tenant, vault: vault)
                return (current, false)
            }
        }
        try await ensureTenant(tenant)
        let sealed = try await vault.seal(token, tenant: tenant)
        let id = "vt_" + Hex.random(bytes: 6)
        let rows = try await postgres.transaction { db in
            _ = try db.query("""
                UPDATE voice_tokens SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $2::integer))
                WHERE tenant_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                """, [tenant, String(overlapSeconds)])
            return try db.query("INSERT INTO voice_tokens (id, tenant_id, sealed, created_by) VALUES ($1, $2, $3, $4) RETURNING \(Self.columns)",
                                [id, tenant, sealed, actor])
        }
        try await cacheVoiceTokens(tenant: tenant, vault: vault)
        guard let info = rows.records.first.flatMap(Self.info) else { throw RoutingError(.invalidInput, "the voice token was not stored") }
        return (info, true)
    }

    /// The tenant's voice tokens, newest first (never the tokens themselves).
    public func voiceTokens(tenant: String) async throws -> [Info] {
        try await list(.voiceTokens, tenant: tenant)
    }

    /// Revokes one voice token at once; nil when the tenant has no such token.
    public func revokeVoiceToken(tenant: String, id: String, by actor: String, vault: CredentialVault) async throws -> Info? {
        guard let info = try await revoke(.voiceTokens, tenant: tenant, id: id, by: actor).flatMap(Self.info) else { return nil }
        try await cacheVoiceTokens(tenant: tenant, vault: vault)
        return info
    }

    /// Writes the tenant's live voice tokens to Redis (sealed with the active master key), or
    /// removes the entry when none is live.
    public func cacheVoiceTokens(tenant: String, vault: CredentialVault) async throws {
        let rows = try await postgres.query("""
            SELECT sealed, (extract(epoch FROM expires_at) * 1000)::bigint AS until FROM voice_tokens
            WHERE tenant_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC
            """, [tenant])
        var live: [VoiceTokenSet.Token] = []
        for r in rows.records {
            guard let sealed = r["sealed"] ?? nil else { continue }
            live.append(.init(token: try await vault.open(sealed, tenant: tenant), until: (r["until"] ?? nil).flatMap { Int64($0) }))
        }
        if live.isEmpty {
            try await redis.send(["HDEL", keys.voiceTokens, tenant])
            return
        }
        let wanted = VoiceTokenSet(tokens: live)
        // Unchanged and sealed by the active master key: nothing to write (sync runs every minute).
        if let current = try await redis.send(["HGET", keys.voiceTokens, tenant]).string, vault.keyRing.isSealedByActiveKey(current),
           (try? VoiceTokenSet.open(current, tenant: tenant, keyRing: vault.keyRing)) == wanted { return }
        try await redis.send(["HSET", keys.voiceTokens, tenant, try wanted.seal(tenant: tenant, keyRing: vault.keyRing)])
    }

    // MARK: - Keeping Redis true to Postgres

    /// What `sync` did.
    public struct Synced: Sendable, Equatable, Codable {
        public var apiKeys = 0
        public var apiKeysRemoved = 0
        public var voiceTenants = 0
        public var brazeTenants = 0
        /// Tenants whose lead-cache keys were (re)published for the routers.
        public var leadKeysPublished = 0
        public var removed = 0
    }

    /// Rebuilds the router's Redis view from Postgres: live API keys (with their expiry), live
    /// voice tokens, Braze access and the tenants' lead-cache keys, each sealed with the active
    /// master key (so after a master key rotation nothing in Redis needs the old key); entries
    /// Postgres no longer has are removed.
    public func sync(vault: CredentialVault, access: TenantAccess) async throws -> Synced {
        var synced = Synced()
        // API keys: revocations that commit while this runs are applied again at the end.
        let live = try await postgres.query("""
            SELECT key_sha256, tenant_id, (extract(epoch FROM expires_at) * 1000)::bigint AS ms, now()::text AS now FROM router_api_keys
            WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            """)
        var wanted: [String: String] = [:]
        for r in live.records {
            guard let hash = r["key_sha256"] ?? nil, let tenant = r["tenant_id"] ?? nil else { continue }
            wanted[hash] = Self.cacheValue(tenant: tenant, expiresMs: (r["ms"] ?? nil).flatMap { Int64($0) })
        }
        let cached = try await hash(keys.apiKeys)
        let stale = cached.keys.filter { wanted[$0] == nil }
        if !stale.isEmpty { try await redis.send(["HDEL", keys.apiKeys] + stale) }
        let changed = wanted.filter { cached[$0.key] != $0.value }
        if !changed.isEmpty { try await redis.send(["HSET", keys.apiKeys] + changed.flatMap { [$0.key, $0.value] }) }
        let late = try await postgres.query("SELECT key_sha256 FROM router_api_keys WHERE revoked_at > now() - interval '1 minute'")
            .rows.compactMap { $0[0] }
        if !late.isEmpty { try await redis.send(["HDEL", keys.apiKeys] + late) }
        synced.apiKeys = wanted.count
        synced.apiKeysRemoved = stale.count
        // Voice tokens: every tenant with a live token, re-sealed; the rest removed.
        let voiceTenants = Set(try await postgres.query("""
            SELECT DISTINCT tenant_id FROM voice_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            """).rows.compactMap { $0[0] })
        for tenant in voiceTenants.sorted() { try await cacheVoiceTokens(tenant: tenant, vault: vault) }
        let goneVoice = try await hash(keys.voiceTokens).keys.filter { !voiceTenants.contains($0) }
        if !goneVoice.isEmpty { try await redis.send(["HDEL", keys.voiceTokens] + goneVoice) }
        synced.voiceTenants = voiceTenants.count
        // Braze access: from each Braze integration's sealed credentials.
        var brazeTenants: Set<String> = []
        let cachedBraze = try await hash(keys.brazeAccess)
        for integration in try await access.integrations() where integration.kind == .braze {
            brazeTenants.insert(integration.tenant)
            let credentials = try BrazeAccess.Credentials.parse(try await access.credentials(of: integration, vault: vault))
            let wanted = BrazeAccess(url: integration.baseURL, apiKey: credentials.apiKey)
            if let current = cachedBraze[integration.tenant], vault.keyRing.isSealedByActiveKey(current),
               (try? BrazeAccess.open(current, tenant: integration.tenant, keyRing: vault.keyRing)) == wanted { continue }
            try await redis.send(["HSET", keys.brazeAccess, integration.tenant, try wanted.seal(tenant: integration.tenant, keyRing: vault.keyRing)])
        }
        let goneBraze = cachedBraze.keys.filter { !brazeTenants.contains($0) }
        if !goneBraze.isEmpty { try await redis.send(["HDEL", keys.brazeAccess] + goneBraze) }
        synced.brazeTenants = brazeTenants.count
        synced.leadKeysPublished = try await LeadVault(vault: vault, redis: redis, keys: keys).publishAll()
        synced.removed = stale.count + goneVoice.count + goneBraze.count
        return synced
    }

    /// Moves credentials that only Redis knows (made before Postgres kept them) into Postgres, so
    /// `sync` keeps them: API keys by their hash, voice tokens opened with the master keys.
    /// Returns how many were adopted. Run once after upgrading (ops/setup-and-run does).
    public func adoptLegacy(vault: CredentialVault, by actor: String) async throws -> Int {
        var adopted = 0
        let known = Set(try await postgres.query("SELECT key_sha256 FROM router_api_keys").rows.compactMap { $0[0] })
        for (hash, value) in try await hash(keys.apiKeys) where !known.contains(hash) {
            let tenant = String(value.split(separator: "|", maxSplits: 1).first ?? "")
            guard TenantID.isValid(tenant), hash.utf8.count == 64 else { continue }
            try await ensureTenant(tenant)
            adopted += try await postgres.query("""
                INSERT INTO router_api_keys (id, tenant_id, key_sha256, label, created_by) VALUES ($1, $2, $3, 'adopted from Redis', $4)
                ON CONFLICT (key_sha256) DO NOTHING
                """, ["ak_" + Hex.random(bytes: 6), tenant, hash, actor]).affected
        }
        let withTokens = Set(try await postgres.query("SELECT DISTINCT tenant_id FROM voice_tokens").rows.compactMap { $0[0] })
        for (tenant, sealed) in try await hash(keys.voiceTokens) where !withTokens.contains(tenant) && TenantID.isValid(tenant) {
            guard let set = try? VoiceTokenSet.open(sealed, tenant: tenant, keyRing: vault.keyRing) else { continue }
            for token in set.tokens where token.until == nil {
                try await ensureTenant(tenant)
                try await postgres.query("INSERT INTO voice_tokens (id, tenant_id, sealed, created_by) VALUES ($1, $2, $3, $4)",
                                         ["vt_" + Hex.random(bytes: 6), tenant, try await vault.seal(token.token, tenant: tenant), actor])
                adopted += 1
            }
        }
        return adopted
    }

    // MARK: - Helpers

    private func hash(_ key: String) async throws -> [String: String] {
        try await redis.send(["HGETALL", key]).hash
    }

    /// The tenant's row (keys and tokens belong to one).
    private func ensureTenant(_ tenant: String) async throws {
        try await postgres.query("INSERT INTO tenants (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING", [tenant])
    }

    private static func checkLabel(_ label: String) throws {
        if let problem = UntrustedText.problem(label, maxBytes: 200, allowEmpty: true) { throw RoutingError(.invalidInput, "label \(problem)") }
    }

    static func cacheValue(tenant: String, expiresAt: Date?) -> String {
        cacheValue(tenant: tenant, expiresMs: expiresAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) })
    }

    /// What Redis holds for an API key: the tenant, and `|<expiry in ms>` when it expires.
    static func cacheValue(tenant: String, expiresMs: Int64?) -> String {
        expiresMs.map { "\(tenant)|\($0)" } ?? tenant
    }

    private static let columns = """
        id, tenant_id, coalesce(label, '') AS label, created_by, created_at::text AS created_at, expires_at::text AS expires_at,
        revoked_at::text AS revoked_at, revoked_by,
        CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired' ELSE 'active' END AS state
        """

    private static func info(_ r: [String: String?]) -> Info? {
        guard let id = r["id"] ?? nil, let tenant = r["tenant_id"] ?? nil else { return nil }
        return Info(id: id, tenant: tenant, label: (r["label"] ?? nil) ?? "", createdBy: (r["created_by"] ?? nil) ?? "",
                    createdAt: (r["created_at"] ?? nil) ?? "", expiresAt: r["expires_at"] ?? nil, revokedAt: r["revoked_at"] ?? nil,
                    revokedBy: r["revoked_by"] ?? nil, state: (r["state"] ?? nil) ?? "active")
    }
}
