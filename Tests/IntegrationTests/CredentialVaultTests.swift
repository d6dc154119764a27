import Foundation
import Postgres
import Schema
import Testing
import Vault

@Suite(.needsServers) struct CredentialVaultTests {
    func vault(_ pg: PostgresClient, keys: String, active: String) throws -> CredentialVault {
        CredentialVault(keyRing: try MasterKeyRing(keys: keys, activeId: active), postgres: pg)
    }

    func prepared() async throws -> PostgresClient {
        let pg = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(pg)
        try await pg.query("INSERT INTO tenants (id, name) VALUES ('acme', 'Acme'), ('globex', 'Globex')")
        return pg
    }

    @Test func sealedCredentialsOpenOnlyForTheirTenant() async throws {
        let pg = try await prepared()
        let k1 = MasterKeyRing.generateEntry(id: "k1")
        let v = try vault(pg, keys: k1, active: "k1")
        let secret = #"{"accessKey":"AK123","accessKeySecret":"s3cr3t"}"#
        let sealed = try await v.seal(secret, tenant: "acme")
        #expect(!sealed.contains("s3cr3t"))
        #expect(Data(base64Encoded: sealed).map { String(decoding: $0, as: UTF8.self).contains("s3cr3t") } == false)
        #expect(try await v.open(sealed, tenant: "acme") == secret)
        // Same plaintext, different nonce: no two seals are alike.
        #expect(try await v.seal(secret, tenant: "acme") != sealed)
        // Another tenant's key (and the tenant bound as associated data) cannot open it.
        _ = try await v.seal("x", tenant: "globex")
        await #expect(throws: VaultError.self) { try await v.open(sealed, tenant: "globex") }
        // Stored wrapped: the table holds no usable key without the master key.
        let wrapped = try await pg.query("SELECT wrapped_key FROM tenant_keys WHERE tenant_id = 'acme'").rows[0][0]!
        #expect(Data(base64Encoded: wrapped)!.count == 32 + 12 + 16)
        try await TestServers.dropSchema(pg)
    }

    @Test func rotatingTheMasterKeyKeepsEveryCredentialReadable() async throws {
        let pg = try await prepared()
        let k1 = MasterKeyRing.generateEntry(id: "k1"), k2 = MasterKeyRing.generateEntry(id: "k2")
        let old = try vault(pg, keys: k1, active: "k1")
        let sealedAcme = try await old.seal("acme-secret", tenant: "acme")
        let sealedGlobex = try await old.seal("globex-secret", tenant: "globex")
        let rotating = try vault(pg, keys: "\(k2),\(k1)", active: "k2")
        #expect(try await rotating.rotate() == 2)
        #expect(try await rotating.rotate() == 0)
        // After rotation the old key can go: k2 alone opens everything.
        let new = try vault(pg, keys: k2, active: "k2")
        #expect(try await new.open(sealedAcme, tenant: "acme") == "acme-secret")
        #expect(try await new.open(sealedGlobex, tenant: "globex") == "globex-secret")
        await #expect(throws: VaultError.self) { try await old.open(sealedAcme, tenant: "acme") }
        try await TestServers.dropSchema(pg)
    }

    @Test(arguments: ["", "k1", "k1:notbase64!", "k1:" + Data(count: 16).base64EncodedString()])
    func malformedKeySettingsAreRejected(_ keys: String) {
        #expect(throws: VaultError.self) { try MasterKeyRing(keys: keys, activeId: "k1") }
    }
}
