import Basics
import Crypto
import Foundation
import Postgres

/// Envelope encryption of credentials at rest: each tenant has its own random data key, stored
/// only wrapped (AES-256-GCM) by a master key from configuration; credentials are sealed with
/// the tenant's data key (AES-256-GCM, random nonce, authenticated). Rotating the master key
/// re-wraps the data keys and leaves every sealed credential as it is.
public struct CredentialVault: Sendable {
    public let keyRing: MasterKeyRing
    public let postgres: PostgresClient
    /// Personal-data keys by tenant, for a minute (a rotated data key is picked up within it).
    private let personal = TTLCache<String, PersonalDataKeys>(ttlMs: 60_000, capacity: 100_000)

    public init(keyRing: MasterKeyRing, postgres: PostgresClient) {
        self.keyRing = keyRing
        self.postgres = postgres
    }

    /// Seals `plaintext` for `tenant` (creating the tenant's data key on first use).
    /// Returns base64 text safe to store; it says nothing about the plaintext but its length.
    public func seal(_ plaintext: String, tenant: String) async throws -> String {
        let key = try await dataKey(tenant: tenant)
        let sealed = try AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Data(tenant.utf8))
        return sealed.combined!.base64EncodedString()
    }

    /// Opens what `seal` produced for the same tenant.
    public func open(_ sealedText: String, tenant: String) async throws -> String {
        let key = try await dataKey(tenant: tenant)
        guard let combined = Data(base64Encoded: sealedText) else { throw VaultError("sealed credential is not base64") }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            return String(decoding: try AES.GCM.open(box, using: key, authenticating: Data(tenant.utf8)), as: UTF8.self)
        } catch {
            throw VaultError("cannot open a credential of tenant \(tenant): wrong key or tampered data")
        }
    }

    /// Re-wraps every data key not wrapped by the active master key; returns how many.
    public func rotate() async throws -> Int {
        let rows = try await postgres.query("SELECT tenant_id, master_key_id, wrapped_key FROM tenant_keys WHERE master_key_id <> $1", [keyRing.activeId])
        var rotated = 0
        for row in rows.rows {
            guard let tenant = row[0], let keyId = row[1], let wrapped = row[2] else { continue }
            let key = try keyRing.unwrap(wrapped, keyId: keyId)
            let (newId, newWrapped) = try keyRing.wrap(key)
            let updated = try await postgres.query(
                "UPDATE tenant_keys SET master_key_id = $1, wrapped_key = $2, rotated_at = now() WHERE tenant_id = $3 AND master_key_id = $4",
                [newId, newWrapped, tenant, keyId])
            rotated += updated.affected
        }
        return rotated
    }

    /// The tenant's personal-data keys (creating its data key on first use), kept in memory for
    /// a minute so a busy writer does not read Postgres per row.
    public func personalDataKeys(tenant: String) async throws -> PersonalDataKeys {
        if let cached = personal.value(for: tenant) { return cached }
        let key = try await dataKey(tenant: tenant)
        let keys = PersonalDataKeys(tenant: tenant, dataKey: key.withUnsafeBytes { Array($0) })
        personal.set(keys, for: tenant)
        return keys
    }

    private func dataKey(tenant: String) async throws -> SymmetricKey {
        if let key = try await existingKey(tenant: tenant) { return key }
        let (keyId, wrapped) = try keyRing.wrap(SymmetricKey(size: .bits256))
        // The key belongs to a tenant row (a tenant first seen by the routing audit has none yet).
        try await postgres.query("INSERT INTO tenants (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING", [tenant])
        // Two processes may race to create the key: the first insert wins, both use the stored one.
        try await postgres.query("INSERT INTO tenant_keys (tenant_id, master_key_id, wrapped_key) VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO NOTHING",
                                 [tenant, keyId, wrapped])
        guard let key = try await existingKey(tenant: tenant) else { throw VaultError("data key of tenant \(tenant) vanished") }
        return key
    }

    private func existingKey(tenant: String) async throws -> SymmetricKey? {
        let rows = try await postgres.query("SELECT master_key_id, wrapped_key FROM tenant_keys WHERE tenant_id = $1", [tenant])
        guard let row = rows.rows.first, let keyId = row[0], let wrapped = row[1] else { return nil }
        return try keyRing.unwrap(wrapped, keyId: keyId)
    }
}
