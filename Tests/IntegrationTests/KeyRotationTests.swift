import Foundation
import Postgres
import Redis
import Routing
import RoutingCore
import Schema
import Testing
import Vault

/// Key rotation that completes: after a master-key rotation (and `sync` of the router's Redis
/// copies) the old master key can be dropped; after a tenant's data-key rotation the old data key
/// is gone; either way every credential, voice token, Braze access and audit row still opens.
@Suite(.needsServers) struct KeyRotationTests {
    struct Fixture {
        let postgres: PostgresClient
        let redis: RedisClient
        let store: RoutingStores

        static func make() async throws -> Fixture {
            let postgres = try await TestServers.postgres()
            try await SchemaMigrations.migrator.migrate(postgres)
            let redis = TestServers.redis()
            return Fixture(postgres: postgres, redis: redis, store: RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: TestServers.uniquePrefix())))
        }

        func vault(_ keys: String, _ active: String) throws -> CredentialVault {
            CredentialVault(keyRing: try MasterKeyRing(keys: keys, activeId: active), postgres: postgres)
        }

        /// A tenant with a sealed integration, Braze access, a voice token and personal data.
        func populate(_ tenant: String, vault: CredentialVault) async throws -> (personal: String, index: String) {
            try await store.access.setIntegration(RoutingIntegration(tenant: tenant, id: "braze", kind: .braze, baseURL: "http://127.0.0.1:9", settings: ["segmentId": "all-leads"]),
                                                  credentials: #"{"apiKey": "braze-\#(tenant)"}"#, vault: vault)
            _ = try await store.credentials.setVoiceToken(tenant: tenant, token: "voice-\(tenant)-0123456789", by: "test", vault: vault)
            let keys = try await vault.personalDataKeys(tenant: tenant)
            // The routers' copy of the keys, sealed with the master key of the moment.
            try await LeadVault(vault: vault, redis: redis, keys: store.keys).publish(keys)
            return (try keys.seal(#"{"caller":"+15551230001"}"#), keys.index("+15551230001"))
        }

        /// Opens everything of `tenant` with `vault` alone.
        func expectOpens(_ tenant: String, vault: CredentialVault, personal: (personal: String, index: String)) async throws {
            let integration = try #require(try await store.access.integrations(tenant: tenant).first)
            #expect(try await store.access.credentials(of: integration, vault: vault) == #"{"apiKey": "braze-\#(tenant)"}"#)
            let voice = try #require(try await redis.send(["HGET", store.keys.voiceTokens, tenant]).string)
            #expect(try VoiceTokenSet.open(voice, tenant: tenant, keyRing: vault.keyRing).live(atMs: 0) == ["voice-\(tenant)-0123456789"])
            let braze = try #require(try await redis.send(["HGET", store.keys.brazeAccess, tenant]).string)
            #expect(try BrazeAccess.open(braze, tenant: tenant, keyRing: vault.keyRing)?.apiKey == "braze-\(tenant)")
            let keys = try await vault.personalDataKeys(tenant: tenant)
            #expect(try keys.open(personal.personal) == #"{"caller":"+15551230001"}"#)
            #expect(keys.index("+15551230001") == personal.index)
            let copy = try #require(try await redis.send(["HGET", store.keys.personalKeys, tenant]).string)
            #expect(try RouterPersonalKeys.open(copy, tenant: tenant, keyRing: vault.keyRing).index("+15551230001") == personal.index)
        }

        func close() async throws {
            try await redis.send(["DEL", store.keys.apiKeys, store.keys.voiceTokens, store.keys.brazeAccess, store.keys.personalKeys])
            await redis.shutdown()
            try await TestServers.dropSchema(postgres)
        }
    }

    @Test func afterAMasterKeyRotationTheOldKeyCanBeRemoved() async throws {
        let f = try await Fixture.make()
        let k1 = MasterKeyRing.generateEntry(id: "k1"), k2 = MasterKeyRing.generateEntry(id: "k2")
        let old = try f.vault(k1, "k1")
        let acme = try await f.populate("acme", vault: old), globex = try await f.populate("globex", vault: old)

        let rotating = try f.vault("\(k2),\(k1)", "k2")
        #expect(try await rotating.rotate() == 2)
        let synced = try await f.store.credentials.sync(vault: rotating, access: f.store.access)
        #expect(synced.voiceTenants == 2 && synced.brazeTenants == 2 && synced.leadKeysPublished == 2)
        #expect(try await rotating.rotate() == 0)
        // Redis holds nothing sealed by k1 any more.
        for key in [f.store.keys.voiceTokens, f.store.keys.brazeAccess, f.store.keys.personalKeys] {
            let values = try await f.redis.send(["HVALS", key]).array?.compactMap(\.string) ?? []
            #expect(values.count == 2 && values.allSatisfy { $0.hasPrefix("k2:") }, "\(key)")
        }
        // k2 alone opens everything; k1 alone opens nothing.
        let new = try f.vault(k2, "k2")
        try await f.expectOpens("acme", vault: new, personal: acme)
        try await f.expectOpens("globex", vault: new, personal: globex)
        let stale = try f.vault(k1, "k1")
        await #expect(throws: VaultError.self) { try await stale.personalDataKeys(tenant: "acme") }
        try await f.close()
    }

    @Test func aTenantDataKeyRotationReSealsItsSecretsAndDeletesTheOldKey() async throws {
        let f = try await Fixture.make()
        let k1 = MasterKeyRing.generateEntry(id: "k1")
        let vault = try f.vault(k1, "k1")
        let acme = try await f.populate("acme", vault: vault), globex = try await f.populate("globex", vault: vault)
        let columns = SchemaMigrations.sealedColumns.map { SealedColumn(table: $0.table, column: $0.column) }
        let rotation = TenantKeyRotation(vault: vault, columns: columns, graceMs: 0)

        let outcome = try await rotation.run(tenant: "acme", by: "cli:root")
        #expect(outcome == TenantKeyRotation.Outcome(version: 2, resumed: false, resealed: 2, deletedVersions: 1))
        #expect(try await f.postgres.query("SELECT version FROM tenant_keys WHERE tenant_id = 'acme'").rows.map { $0[0] } == ["2"])
        #expect(try await f.postgres.query("SELECT version FROM tenant_keys WHERE tenant_id = 'globex'").rows.map { $0[0] } == ["1"])
        let sealed = try await f.postgres.query("""
            SELECT credentials AS s FROM routing_integrations WHERE tenant_id = 'acme' UNION ALL SELECT sealed FROM voice_tokens WHERE tenant_id = 'acme'
            """).rows.compactMap { $0[0] }
        #expect(sealed.count == 2 && sealed.allSatisfy { $0.hasPrefix("v2:") })
        // A fresh vault (nothing cached) opens everything from Postgres.
        try await f.expectOpens("acme", vault: try f.vault(k1, "k1"), personal: acme)
        try await f.expectOpens("globex", vault: try f.vault(k1, "k1"), personal: globex)
        // New secrets are sealed with the new version.
        #expect(try await vault.seal("x", tenant: "acme").hasPrefix("v2:"))

        // A rotation interrupted after it was recorded is finished by the next run.
        try await f.postgres.query("INSERT INTO tenant_key_rotations (tenant_id, to_version, started_by) VALUES ('acme', 3, 'cli:root')")
        let resumed = try await rotation.run(tenant: "acme", by: "cli:other")
        #expect(resumed == TenantKeyRotation.Outcome(version: 3, resumed: true, resealed: 2, deletedVersions: 1))
        try await f.expectOpens("acme", vault: try f.vault(k1, "k1"), personal: acme)
        let runs = try await f.postgres.query("SELECT to_version, started_by FROM tenant_key_rotations WHERE tenant_id = 'acme' AND finished_at IS NOT NULL ORDER BY to_version")
        #expect(runs.rows == [["2", "cli:root"], ["3", "cli:root"]])
        // A value that no longer opens stops the rotation with its table named (and nothing is lost).
        try await f.postgres.query("UPDATE routing_integrations SET credentials = 'v3:AAAA' WHERE tenant_id = 'acme'")
        await #expect(throws: VaultError.self) { try await rotation.run(tenant: "acme", by: "cli:root") }
        #expect(try await f.postgres.query("SELECT count(*) FROM tenant_keys WHERE tenant_id = 'acme'").rows[0][0] == "2")
        try await f.close()
    }
}
