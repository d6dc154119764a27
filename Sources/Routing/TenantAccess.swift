import Basics
import Foundation
import Postgres
import Redis
import RoutingCore
import Vault

/// What a tenant's routing is allowed to reach and who may reach it: the integrations (dialers,
/// SMS, email, Braze) with their credentials sealed in Postgres and the Telnyx public key (API
/// keys and voice tokens: `RouterCredentials`; the sealed lead cache: `LeadVault`).
public struct TenantAccess: Sendable {
    public let redis: RedisClient
    public let postgres: PostgresClient?
    public let keys: RoutingKeys

    /// `postgres` may be nil for Redis-only tools (public keys); integrations need it.
    public init(redis: RedisClient, postgres: PostgresClient?, keys: RoutingKeys) {
        self.redis = redis
        self.postgres = postgres
        self.keys = keys
    }

    private func database() throws -> PostgresClient {
        guard let postgres else { throw RoutingError(.invalidInput, "integrations need Postgres (SB_POSTGRES_URL)") }
        return postgres
    }

    /// Stores (or replaces) an integration with its credentials sealed by `vault`.
    public func setIntegration(_ integration: RoutingIntegration, credentials: String, vault: CredentialVault) async throws {
        try integration.validate()
        guard !credentials.isEmpty else { throw RoutingError(.invalidInput, "credentials must not be empty") }
        let braze = integration.kind == .braze ? try BrazeAccess.Credentials.parse(credentials) : nil
        let db = try database()
        try await db.query("INSERT INTO tenants (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING", [integration.tenant])
        let sealed = try await vault.seal(credentials, tenant: integration.tenant)
        let settings = String(decoding: try JSONEncoder().encode(integration.settings), as: UTF8.self)
        try await db.query("""
            INSERT INTO routing_integrations (tenant_id, id, kind, base_url, credentials, settings) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
            ON CONFLICT (tenant_id, id) DO UPDATE SET kind = EXCLUDED.kind, base_url = EXCLUDED.base_url, credentials = EXCLUDED.credentials,
                settings = EXCLUDED.settings, updated_at = now()
            """, [integration.tenant, integration.id, integration.kind.rawValue, integration.baseURL, sealed, settings])
        if let braze {
            // The router's live lookups need the REST key without Postgres: sealed by a master key in Redis.
            try await redis.send(["HSET", keys.brazeAccess, integration.tenant,
                                  try BrazeAccess(url: integration.baseURL, apiKey: braze.apiKey).seal(tenant: integration.tenant, keyRing: vault.keyRing)])
        }
    }

    /// Every integration (of one tenant, or all), without credentials.
    public func integrations(tenant: String? = nil) async throws -> [RoutingIntegration] {
        let rows = try await database().query("""
            SELECT tenant_id, id, kind, base_url, settings::text AS settings FROM routing_integrations
            WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id, id
            """, [tenant])
        return rows.records.compactMap { r in
            guard let t = r["tenant_id"] ?? nil, let id = r["id"] ?? nil, let kind = (r["kind"] ?? nil).flatMap(RoutingIntegration.Kind.init),
                  let url = r["base_url"] ?? nil else { return nil }
            let settings = (r["settings"] ?? nil).flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
            return RoutingIntegration(tenant: t, id: id, kind: kind, baseURL: url, settings: settings)
        }
    }

    /// The opened credentials of one integration (for the process that calls it).
    public func credentials(of integration: RoutingIntegration, vault: CredentialVault) async throws -> String {
        let rows = try await database().query("SELECT credentials FROM routing_integrations WHERE tenant_id = $1 AND id = $2",
                                              [integration.tenant, integration.id])
        guard let sealed = rows.value(0, "credentials") else { throw RoutingError(.invalidInput, "no integration \(integration.id) for \(integration.tenant)") }
        return try await vault.open(sealed, tenant: integration.tenant)
    }

    /// Sets the Telnyx account public key the tenant's TeXML requests are verified with.
    public func setTelnyxPublicKey(tenant: String, publicKey: String) async throws {
        try TenantID.check(tenant)
        guard TelnyxSignature.isPublicKey(publicKey) else { throw RoutingError(.invalidInput, "the Telnyx public key must be base64 of 32 bytes (Ed25519)") }
        try await redis.send(["HSET", keys.voicePublicKeys, tenant, publicKey])
    }

}
