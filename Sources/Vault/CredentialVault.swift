import Basics
import Crypto
import Foundation
import Postgres

/// Envelope encryption of credentials at rest: each tenant has its own random data key, stored
/// only wrapped (AES-256-GCM) by a master key from configuration; credentials are sealed with
/// the tenant's data key (AES-256-GCM, random nonce, authenticated). Rotating the master key
/// re-wraps the data keys; rotating a tenant's data key (`TenantKeyRotation`) adds a version,
/// re-seals the tenant's secrets with it and deletes the old one. Sealed text names its version
/// (`v<n>:` before the base64; none for version 1).
public struct CredentialVault: Sendable {
    public let keyRing: MasterKeyRing
    public let postgres: PostgresClient
    /// Personal-data keys by tenant, for a minute (they change only when first made).
    private let personal = TTLCache<String, PersonalDataKeys>(ttlMs: 60_000, capacity: 100_000)

    public init(keyRing: MasterKeyRing, postgres: PostgresClient) {
        self.keyRing = keyRing
        self.postgres = postgres
    }

    /// Seals `plaintext` for `tenant` with its current data key (creating the tenant's data key
    /// on first use). Returns text safe to store; it says nothing about the plaintext but its length.
    public func seal(_ plaintext: String, tenant: String) async throws -> String {
        let (version, key) = try await currentKey(tenant: tenant)
        return try Self.seal(plaintext, tenant: tenant, version: version, key: key)
    }

    /// Opens what `seal` produced for the same tenant, with whichever data key version sealed it.
    public func open(_ sealedText: String, tenant: String) async throws -> String {
        let (version, body) = Self.version(of: sealedText)
        guard let key = try await dataKey(tenant: tenant, version: version) else {
            throw VaultError("cannot open a credential of tenant \(tenant): its data key version \(version) is gone")
        }
        return try Self.open(body, tenant: tenant, key: key)
    }

    /// Re-wraps every data key (every version) not wrapped by the active master key; returns how many.
    public func rotate() async throws -> Int {
        let rows = try await postgres.query("SELECT tenant_id, version, master_key_id, wrapped_key FROM tenant_keys WHERE master_key_id <> $1",
                                            [keyRing.activeId])
        var rotated = 0
        for row in rows.rows {
            guard let tenant = row[0], let version = row[1], let keyId = row[2], let wrapped = row[3] else { continue }
            let key = try keyRing.unwrap(wrapped, keyId: keyId)
            let (newId, newWrapped) = try keyRing.wrap(key)
            let updated = try await postgres.query("""
                UPDATE tenant_keys SET master_key_id = $1, wrapped_key = $2, rotated_at = now()
                WHERE tenant_id = $3 AND version = $4::integer AND master_key_id = $5
                """, [newId, newWrapped, tenant, version, keyId])
            rotated += updated.affected
        }
        return rotated
    }

    /// The tenant's personal-data keys (made on first use from its data key, then kept wrapped
    /// by the current data key version), in memory for a minute so a busy writer does not read
    /// Postgres per row.
    public func personalDataKeys(tenant: String) async throws -> PersonalDataKeys {
        if let cached = personal.value(for: tenant) { return cached }
        if let stored = try await storedPersonalKeys(tenant: tenant) {
            personal.set(stored, for: tenant)
            return stored
        }
        let (version, key) = try await currentKey(tenant: tenant)
        let made = PersonalDataKeys(tenant: tenant, dataKey: key.withUnsafeBytes { Array($0) })
        // Two processes may race: both derived the same keys from the same data key; the first insert wins.
        try await postgres.query("""
            INSERT INTO tenant_personal_keys (tenant_id, key_version, wrapped) VALUES ($1, $2::integer, $3) ON CONFLICT (tenant_id) DO NOTHING
            """, [tenant, String(version), try Self.wrapPersonal(made, tenant: tenant, key: key)])
        guard let stored = try await storedPersonalKeys(tenant: tenant) else { throw VaultError("personal keys of tenant \(tenant) vanished") }
        personal.set(stored, for: tenant)
        return stored
    }

    // MARK: - Data key versions (for TenantKeyRotation)

    /// The tenant's newest data key version and the key (created as version 1 on first use).
    func currentKey(tenant: String) async throws -> (version: Int, key: SymmetricKey) {
        if let current = try await newestKey(tenant: tenant) { return current }
        let (keyId, wrapped) = try keyRing.wrap(SymmetricKey(size: .bits256))
        // The key belongs to a tenant row (a tenant first seen by the routing audit has none yet).
        try await postgres.query("INSERT INTO tenants (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING", [tenant])
        // Two processes may race to create the key: the first insert wins, both use the stored one.
        try await postgres.query("""
            INSERT INTO tenant_keys (tenant_id, version, master_key_id, wrapped_key) VALUES ($1, 1, $2, $3) ON CONFLICT DO NOTHING
            """, [tenant, keyId, wrapped])
        guard let current = try await newestKey(tenant: tenant) else { throw VaultError("data key of tenant \(tenant) vanished") }
        return current
    }

    /// Adds data key version `version` for `tenant` (nothing when it exists).
    func addKey(tenant: String, version: Int) async throws {
        let (keyId, wrapped) = try keyRing.wrap(SymmetricKey(size: .bits256))
        try await postgres.query("""
            INSERT INTO tenant_keys (tenant_id, version, master_key_id, wrapped_key) VALUES ($1, $2::integer, $3, $4) ON CONFLICT DO NOTHING
            """, [tenant, String(version), keyId, wrapped])
    }

    /// Wraps the tenant's personal-data keys with data key `version` (after a rotation added it).
    func rewrapPersonalKeys(tenant: String, to version: Int) async throws {
        guard let keys = try await storedPersonalKeys(tenant: tenant), let key = try await dataKey(tenant: tenant, version: version) else { return }
        try await postgres.query("""
            UPDATE tenant_personal_keys SET key_version = $2::integer, wrapped = $3, rewrapped_at = now() WHERE tenant_id = $1 AND key_version <> $2::integer
            """, [tenant, String(version), try Self.wrapPersonal(keys, tenant: tenant, key: key)])
    }

    /// Deletes the tenant's data key versions older than `version`; returns how many.
    func deleteKeys(tenant: String, olderThan version: Int) async throws -> Int {
        try await postgres.query("DELETE FROM tenant_keys WHERE tenant_id = $1 AND version < $2::integer", [tenant, String(version)]).affected
    }

    func dataKey(tenant: String, version: Int) async throws -> SymmetricKey? {
        let rows = try await postgres.query("SELECT master_key_id, wrapped_key FROM tenant_keys WHERE tenant_id = $1 AND version = $2::integer",
                                            [tenant, String(version)])
        guard let row = rows.rows.first, let keyId = row[0], let wrapped = row[1] else { return nil }
        return try keyRing.unwrap(wrapped, keyId: keyId)
    }

    private func newestKey(tenant: String) async throws -> (version: Int, key: SymmetricKey)? {
        let rows = try await postgres.query("""
            SELECT version, master_key_id, wrapped_key FROM tenant_keys WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1
            """, [tenant])
        guard let row = rows.rows.first, let version = row[0].flatMap({ Int($0) }), let keyId = row[1], let wrapped = row[2] else { return nil }
        return (version, try keyRing.unwrap(wrapped, keyId: keyId))
    }

    private func storedPersonalKeys(tenant: String) async throws -> PersonalDataKeys? {
        let rows = try await postgres.query("SELECT key_version, wrapped FROM tenant_personal_keys WHERE tenant_id = $1", [tenant])
        guard let row = rows.rows.first, let version = row[0].flatMap({ Int($0) }), let wrapped = row[1] else { return nil }
        guard let key = try await dataKey(tenant: tenant, version: version) else {
            throw VaultError("personal keys of tenant \(tenant) are wrapped by data key version \(version), which is gone")
        }
        let material = try Self.open(wrapped, tenant: "personal:\(tenant)", key: key)
        guard let bytes = Data(base64Encoded: material), bytes.count == 64 else { throw VaultError("personal keys of tenant \(tenant) are malformed") }
        return PersonalDataKeys(tenant: tenant, sealing: Array(bytes.prefix(32)), indexing: Array(bytes.suffix(32)))
    }

    private static func wrapPersonal(_ keys: PersonalDataKeys, tenant: String, key: SymmetricKey) throws -> String {
        try seal(Data(keys.material).base64EncodedString(), tenant: "personal:\(tenant)", version: 1, key: key)
    }

    // MARK: - Sealed text

    /// The data key version a sealed text names, and the base64 after the version.
    static func version(of sealed: String) -> (version: Int, body: Substring) {
        let utf8 = sealed.utf8
        guard utf8.first == UInt8(ascii: "v"), let colon = utf8.firstIndex(of: UInt8(ascii: ":")),
              let version = Int(Substring(sealed.utf8[utf8.index(after: utf8.startIndex)..<colon])), version > 1 else {
            return (1, sealed[...])
        }
        return (version, sealed[sealed.index(after: colon)...])
    }

    static func seal(_ plaintext: String, tenant: String, version: Int, key: SymmetricKey) throws -> String {
        let sealed = try AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Data(tenant.utf8))
        let body = sealed.combined!.base64EncodedString()
        return version == 1 ? body : "v\(version):" + body
    }

    static func open(_ body: Substring, tenant: String, key: SymmetricKey) throws -> String {
        guard let combined = Data(base64Encoded: String(body)) else { throw VaultError("sealed credential is not base64") }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            return String(decoding: try AES.GCM.open(box, using: key, authenticating: Data(tenant.utf8)), as: UTF8.self)
        } catch {
            throw VaultError("cannot open a credential of tenant \(tenant): wrong key or tampered data")
        }
    }

    static func open(_ text: String, tenant: String, key: SymmetricKey) throws -> String { try open(text[...], tenant: tenant, key: key) }
}
