import Basics
import Curl
import Foundation
import Postgres
import Redis
import Routing
import RoutingCore
import Schema
import Testing
import Vault

/// The router's API keys and voice tokens: Postgres as the source of truth, Redis as the router's
/// copy, revocation seen by a running router on its next requests, expiry, rotation with an
/// overlap, and `sync` rebuilding Redis without bringing a revoked key back.
@Suite(.needsServers) struct RouterCredentialsTests {
    static let rules = RoutingRules(
        timeZone: "UTC", dialers: [.init(id: "zendesk", kind: .zendeskTalk, target: "sip:support@acme.zendesk.com")],
        defaultDialer: "zendesk", preferredDialer: "zendesk", ownerRoutes: [:], tierRoutes: [:], menu: [])

    func route(_ running: RunningRouter, key: String) async throws -> Int {
        try await running.http.send(.json("POST", "http://127.0.0.1:\(running.port)/v1/route", body: #"{"callId":"c-1","caller":"+15551230001"}"#,
                                          headers: [("Authorization", "Bearer \(key)")])).status
    }

    @Test func aRevokedKeyIsRefusedByTheRunningRouterAndSyncNeverBringsItBack() async throws {
        let running = try await RunningRouter.start(rules: Self.rules)
        let credentials = running.store.credentials
        #expect(try await route(running, key: running.key) == 200)
        let (second, secondKey) = try await credentials.createAPIKey(tenant: "acme", label: "dialfire line 2", createdBy: "ana@acme")
        #expect(second.id.hasPrefix("ak_") && second.state == "active" && second.label == "dialfire line 2" && second.createdBy == "ana@acme")
        #expect(try await route(running, key: secondKey) == 200)
        // Only the hash is kept, in Postgres and in Redis.
        let stored = try await running.postgres.query("SELECT key_sha256 FROM router_api_keys WHERE id = $1", [second.id]).value(0, "key_sha256")
        #expect(stored == APIKey.hash(secondKey))
        #expect(try await TestServers.keys(prefix: running.prefix, redis: running.redis).allSatisfy { !$0.contains(secondKey) })

        let revoked = try #require(try await credentials.revokeAPIKey(tenant: "acme", id: second.id, by: "ana@acme"))
        #expect(revoked.state == "revoked" && revoked.revokedBy == "ana@acme")
        // The router trusted the key for at most RouterCredentials.routerCacheMs.
        #expect(try await TestServers.eventually(5) { try await route(running, key: secondKey) == 401 })
        #expect(try await route(running, key: running.key) == 200)
        // Another tenant cannot revoke acme's key.
        #expect(try await credentials.revokeAPIKey(tenant: "globex", id: second.id, by: "x") == nil)

        // Redis lost everything: sync rebuilds it from Postgres, without the revoked key, and drops
        // what Postgres does not know.
        try await running.redis.send(["DEL", running.store.keys.apiKeys])
        try await running.redis.send(["HSET", running.store.keys.apiKeys, APIKey.hash("sbr_forged"), "acme"])
        let synced = try await credentials.sync(vault: try Self.vault(running.postgres), access: running.store.access)
        #expect(synced.apiKeys == 1 && synced.apiKeysRemoved == 1)
        let cached = try await running.redis.send(["HGETALL", running.store.keys.apiKeys]).array?.compactMap(\.string) ?? []
        #expect(cached == [APIKey.hash(running.key), "acme"])
        #expect(try await TestServers.eventually(5) { try await route(running, key: "sbr_forged") == 401 })
        #expect(try await route(running, key: running.key) == 200)
        try await running.stop()
    }

    @Test func keysExpireAndRotationKeepsTheOldKeyForTheOverlap() async throws {
        let running = try await RunningRouter.start(rules: Self.rules)
        let credentials = running.store.credentials
        await #expect(throws: RoutingError.self) { try await credentials.createAPIKey(tenant: "acme", createdBy: "t", expiresAt: Date().addingTimeInterval(-1)) }
        await #expect(throws: RoutingError.self) { try await credentials.createAPIKey(tenant: "acme", label: "bad\u{0}", createdBy: "t") }
        let (short, shortKey) = try await credentials.createAPIKey(tenant: "acme", createdBy: "t", expiresAt: Date().addingTimeInterval(2))
        #expect(short.expiresAt != nil)
        #expect(try await route(running, key: shortKey) == 200)
        #expect(try await TestServers.eventually(8) { try await route(running, key: shortKey) == 401 })
        #expect(try await credentials.apiKeys(tenant: "acme").first { $0.id == short.id }?.state == "expired")

        let original = try #require(try await credentials.apiKeys(tenant: "acme").first { $0.state == "active" })
        let rotated = try #require(try await credentials.rotateAPIKey(tenant: "acme", id: original.id, overlapSeconds: 600, by: "ana@acme"))
        // During the overlap both work; the old one now has an end.
        #expect(try await route(running, key: rotated.key) == 200)
        #expect(try await route(running, key: running.key) == 200)
        let old = try #require(try await credentials.apiKeys(tenant: "acme").first { $0.id == original.id })
        #expect(old.state == "active" && old.expiresAt != nil)
        let value = try await running.redis.send(["HGET", running.store.keys.apiKeys, APIKey.hash(running.key)]).string ?? ""
        #expect(value.hasPrefix("acme|"))
        // Rotation without overlap revokes the old key at once; a revoked key cannot be rotated.
        let again = try #require(try await credentials.rotateAPIKey(tenant: "acme", id: rotated.info.id, overlapSeconds: 0, by: "ana@acme"))
        #expect(try await TestServers.eventually(5) { try await route(running, key: rotated.key) == 401 })
        #expect(try await route(running, key: again.key) == 200)
        #expect(try await credentials.rotateAPIKey(tenant: "acme", id: rotated.info.id, overlapSeconds: 0, by: "x") == nil)
        await #expect(throws: RoutingError.self) { try await credentials.rotateAPIKey(tenant: "acme", id: again.info.id, overlapSeconds: -1, by: "x") }
        try await running.stop()
    }

    @Test func voiceTokensRotateWithAnOverlapAndRevokeAtOnce() async throws {
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let redis = TestServers.redis()
        let store = RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: TestServers.uniquePrefix()))
        let vault = try Self.vault(postgres)
        func live() async throws -> [String] {
            guard let sealed = try await redis.send(["HGET", store.keys.voiceTokens, "acme"]).string else { return [] }
            return try VoiceTokenSet.open(sealed, tenant: "acme", keyRing: vault.keyRing).live(atMs: Int64(Date().timeIntervalSince1970 * 1000))
        }
        let first = try await store.credentials.setVoiceToken(tenant: "acme", token: "first-token-0123456789", by: "ana@acme", vault: vault)
        #expect(first.changed)
        #expect(try await live() == ["first-token-0123456789"])
        // The same token again with ifChanged: nothing new.
        let same = try await store.credentials.setVoiceToken(tenant: "acme", token: "first-token-0123456789", by: "ana@acme", vault: vault, ifChanged: true)
        #expect(!same.changed && same.token.id == first.token.id)
        // A new token with a 10-minute overlap: both sign validly until then.
        let second = try await store.credentials.setVoiceToken(tenant: "acme", token: "second-token-0123456789", overlapSeconds: 600, by: "ana@acme", vault: vault)
        #expect(Set(try await live()) == ["first-token-0123456789", "second-token-0123456789"])
        // Postgres holds them sealed, Redis sealed by the master key: neither holds the token.
        let dump = try await postgres.query("SELECT string_agg(t::text, ' ') AS all FROM voice_tokens t").value(0, "all") ?? ""
        #expect(!dump.contains("second-token") && !dump.contains("first-token"))
        #expect(!(try await redis.send(["HGET", store.keys.voiceTokens, "acme"]).string ?? "").contains("token"))
        // Revoking the old one ends the overlap at once.
        _ = try #require(try await store.credentials.revokeVoiceToken(tenant: "acme", id: first.token.id, by: "ana@acme", vault: vault))
        #expect(try await live() == ["second-token-0123456789"])
        // Without overlap the replaced token stops at once.
        _ = try await store.credentials.setVoiceToken(tenant: "acme", token: "third-token-0123456789", by: "ana@acme", vault: vault)
        #expect(try await live() == ["third-token-0123456789"])
        let listed = try await store.credentials.voiceTokens(tenant: "acme")
        #expect(listed.map(\.state) == ["active", "expired", "revoked"], "\(listed)")
        #expect(listed.first?.id != second.token.id)
        await #expect(throws: RoutingError.self) { try await store.credentials.setVoiceToken(tenant: "acme", token: "short", by: "x", vault: vault) }
        await #expect(throws: RoutingError.self) { try await store.credentials.setVoiceToken(tenant: "acme", token: "with space 0123456789", by: "x", vault: vault) }
        // Redis lost it: sync restores the live token only.
        try await redis.send(["DEL", store.keys.voiceTokens])
        _ = try await store.credentials.sync(vault: vault, access: store.access)
        #expect(try await live() == ["third-token-0123456789"])
        try await TestServers.cleanup(prefix: store.keys.prefix, redis: redis)
        try await redis.send(["DEL", store.keys.apiKeys, store.keys.voiceTokens, store.keys.brazeAccess])
        await redis.shutdown()
        try await TestServers.dropSchema(postgres)
    }

    @Test func credentialsOnlyRedisKnewAreAdoptedIntoPostgres() async throws {
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let redis = TestServers.redis()
        let store = RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: TestServers.uniquePrefix()))
        let vault = try Self.vault(postgres)
        // What the code before Postgres kept credentials wrote: a key's hash and a bare sealed token.
        let legacyKey = APIKey.generate()
        try await redis.send(["HSET", store.keys.apiKeys, APIKey.hash(legacyKey), "acme", "not-a-hash", "acme"])
        try await redis.send(["HSET", store.keys.voiceTokens, "acme", try vault.keyRing.sealDirect("legacy-token-0123456789", context: "voice:acme")])
        #expect(try await store.credentials.adoptLegacy(vault: vault, by: "cli:root") == 2)
        #expect(try await store.credentials.adoptLegacy(vault: vault, by: "cli:root") == 0)
        let keys = try await store.credentials.apiKeys(tenant: "acme")
        #expect(keys.count == 1 && keys[0].createdBy == "cli:root" && keys[0].label == "adopted from Redis")
        _ = try await store.credentials.sync(vault: vault, access: store.access)
        #expect(try await redis.send(["HGET", store.keys.apiKeys, APIKey.hash(legacyKey)]).string == "acme")
        #expect(try await redis.send(["HEXISTS", store.keys.apiKeys, "not-a-hash"]).int == 0)
        let sealed = try #require(try await redis.send(["HGET", store.keys.voiceTokens, "acme"]).string)
        #expect(try VoiceTokenSet.open(sealed, tenant: "acme", keyRing: vault.keyRing).live(atMs: 0) == ["legacy-token-0123456789"])
        try await redis.send(["DEL", store.keys.apiKeys, store.keys.voiceTokens, store.keys.brazeAccess])
        await redis.shutdown()
        try await TestServers.dropSchema(postgres)
    }

    static func vault(_ postgres: PostgresClient, keys: String = fixedKey, active: String = "k1") throws -> CredentialVault {
        CredentialVault(keyRing: try MasterKeyRing(keys: keys, activeId: active), postgres: postgres)
    }

    static let fixedKey = MasterKeyRing.generateEntry(id: "k1")
}
