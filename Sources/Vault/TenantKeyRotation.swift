import Basics
import Crypto
import Foundation
import Postgres

/// A table column holding text sealed with its row's tenant's data key (the row's tenant is in `tenant_id`).
public struct SealedColumn: Sendable, Hashable {
    public let table: String
    public let column: String

    public init(table: String, column: String) {
        self.table = table
        self.column = column
    }
}

/// Rotates one tenant's data key online and resumably: adds a version (the one new secrets are
/// sealed with from then on), re-wraps the tenant's personal-data keys with it, re-seals every
/// sealed column of the tenant's rows, then deletes the old versions. Running it again after a
/// crash finishes the same rotation (`tenant_key_rotations` remembers it); nothing is unreadable
/// at any point, because both versions open until the last row is re-sealed.
public struct TenantKeyRotation: Sendable {
    public let vault: CredentialVault
    public let columns: [SealedColumn]
    /// How long writers that read the old version just before the rotation are given to store
    /// what they sealed, before the re-sealing pass starts.
    public let graceMs: Int

    public init(vault: CredentialVault, columns: [SealedColumn], graceMs: Int = 2_000) {
        self.vault = vault
        self.columns = columns
        self.graceMs = graceMs
    }

    /// What one run did.
    public struct Outcome: Sendable, Equatable {
        /// The data key version the tenant's secrets are sealed with now.
        public let version: Int
        /// Whether this run finished a rotation an earlier run had started.
        public let resumed: Bool
        /// Values re-sealed by this run.
        public let resealed: Int
        /// Old data key versions deleted.
        public let deletedVersions: Int

        public init(version: Int, resumed: Bool, resealed: Int, deletedVersions: Int) {
            self.version = version
            self.resumed = resumed
            self.resealed = resealed
            self.deletedVersions = deletedVersions
        }
    }

    /// Rotates (or finishes rotating) `tenant`'s data key; `actor` is recorded as who started it.
    public func run(tenant: String, by actor: String) async throws -> Outcome {
        let postgres = vault.postgres
        // The personal-data keys exist before the new version does, so they are wrapped by a version that is kept.
        _ = try await vault.personalDataKeys(tenant: tenant)
        let open = try await postgres.query("SELECT to_version FROM tenant_key_rotations WHERE tenant_id = $1 AND finished_at IS NULL",
                                            [tenant]).value(0, "to_version").flatMap { Int($0) }
        let target: Int
        if let open {
            target = open
        } else {
            target = try await vault.currentKey(tenant: tenant).version + 1
            try await postgres.query("INSERT INTO tenant_key_rotations (tenant_id, to_version, started_by) VALUES ($1, $2::integer, $3)",
                                     [tenant, String(target), actor])
        }
        try await vault.addKey(tenant: tenant, version: target)
        try await vault.rewrapPersonalKeys(tenant: tenant, to: target)
        if open == nil { try await Task.sleep(for: .milliseconds(graceMs)) }
        guard let key = try await vault.dataKey(tenant: tenant, version: target) else {
            throw VaultError("data key version \(target) of tenant \(tenant) is missing")
        }
        var resealed = 0
        // Passes until one finds nothing left under an old version (a writer may have stored one meanwhile).
        while true {
            var pass = 0
            for column in columns { pass += try await reseal(column, tenant: tenant, version: target, key: key) }
            resealed += pass
            if pass == 0 { break }
        }
        let deleted = try await vault.deleteKeys(tenant: tenant, olderThan: target)
        try await postgres.query("""
            UPDATE tenant_key_rotations SET resealed = resealed + $3::integer, finished_at = now() WHERE tenant_id = $1 AND to_version = $2::integer
            """, [tenant, String(target), String(resealed)])
        return Outcome(version: target, resumed: open != nil, resealed: resealed, deletedVersions: deleted)
    }

    /// Re-seals, 200 rows at a time, the values of one column not yet under `version`; returns how many.
    private func reseal(_ column: SealedColumn, tenant: String, version: Int, key: SymmetricKey) async throws -> Int {
        let postgres = vault.postgres
        let table = "\"\(column.table)\"", field = "\"\(column.column)\""
        var count = 0
        // The old versions' keys, read once each (not once per row).
        var oldKeys: [Int: SymmetricKey] = [:]
        while true {
            let rows = try await postgres.query("""
                SELECT ctid::text, \(field) FROM \(table) WHERE tenant_id = $1 AND \(field) IS NOT NULL AND \(field) NOT LIKE $2 LIMIT 200
                """, [tenant, "v\(version):%"])
            if rows.rows.isEmpty { return count }
            for row in rows.rows {
                guard let ctid = row[0], let old = row[1] else { continue }
                let plaintext: String
                do {
                    let (oldVersion, body) = CredentialVault.version(of: old)
                    if oldKeys[oldVersion] == nil { oldKeys[oldVersion] = try await vault.dataKey(tenant: tenant, version: oldVersion) }
                    guard let oldKey = oldKeys[oldVersion] else { throw VaultError("its data key version \(oldVersion) is gone") }
                    plaintext = try CredentialVault.open(body, tenant: tenant, key: oldKey)
                } catch {
                    throw VaultError("\(column.table).\(column.column) of tenant \(tenant) (row \(ctid)) does not open: \(error)")
                }
                let new = try CredentialVault.seal(plaintext, tenant: tenant, version: version, key: key)
                // Only if the value is still the one opened (a writer may have replaced it meanwhile).
                count += try await postgres.query("UPDATE \(table) SET \(field) = $1 WHERE ctid = $2::tid AND \(field) = $3", [new, ctid, old]).affected
            }
        }
    }
}
