import ArgumentParser
import Basics
import Foundation
import Routing
import RoutingCore
import Schema
import Vault

/// `switchboard keys …`: the master keys and the tenants' data keys.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "Master keys and tenant data keys of the encryption at rest.",
                                                    subcommands: [Generate.self, Rotate.self, RotateTenant.self, Check.self])

    /// Runs `body` with the routing stores and a vault on the configured master keys.
    static func withVault<R>(_ options: GlobalOptions, _ body: (RoutingStores, CredentialVault) async throws -> R) async throws -> R {
        let ring = try RoutingCommand.keyRing(options)
        return try await RoutingCommand.withStore(options) { store in
            do { return try await body(store, CredentialVault(keyRing: ring, postgres: store.postgres)) } catch let error as VaultError {
                throw CLIFailure("\(error)")
            }
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a new random master key entry for SB_MASTER_KEYS.")
        @Argument(help: "Key id, e.g. k2.") var id: String
        @Flag(help: "Print JSON.") var json = false
        func run() throws {
            guard TenantID.isValid(id) else { throw ValidationError("a key id is 1-63 characters of a-z, 0-9, _ and -") }
            let entry = MasterKeyRing.generateEntry(id: id)
            print(json ? try JSONEncoder.sortedText(["id": id, "entry": entry], pretty: true) : entry)
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal everything under the active master key (SB_MASTER_KEY_ID): tenant data keys, voice tokens, Braze access.",
            discussion: """
                Put the new key first in SB_MASTER_KEYS, keep the old one listed, set SB_MASTER_KEY_ID to the new id, run this, \
                check with `switchboard keys check` on the new key alone, then drop the old key from every process's environment.
                """)
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let (rewrapped, synced) = try await KeysCommand.withVault(options) { store, vault in
                let rewrapped = try await vault.rotate()
                // The router's Redis copies (voice tokens, Braze access) are sealed again from Postgres.
                let synced = try await store.credentials.sync(vault: vault, access: store.access)
                try await CLIIdentity.record(store.postgres, "keys.rotate", tenant: nil,
                                             detail: ["rewrapped": String(rewrapped), "voiceTenants": String(synced.voiceTenants),
                                                      "brazeTenants": String(synced.brazeTenants),
                                                      "leadKeys": String(synced.leadKeysPublished)])
                return (rewrapped, synced)
            }
            if options.json {
                return try options.printJSON(["rewrapped": rewrapped, "voiceTenants": synced.voiceTenants, "brazeTenants": synced.brazeTenants,
                                               "leadKeys": synced.leadKeysPublished])
            }
            print("re-wrapped \(rewrapped) tenant data key(s); re-sealed the voice tokens of \(synced.voiceTenants) and the Braze access of \(synced.brazeTenants) tenant(s) and the lead-cache keys of \(synced.leadKeysPublished) tenant(s) in Redis")
        }
    }

    struct RotateTenant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-tenant",
            abstract: "Give a tenant a new data key: its credentials are re-sealed with it and the old key is deleted.",
            discussion: "Online and resumable: run it again after an interruption and it finishes the same rotation.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String

        func run() async throws {
            guard TenantID.isValid(tenant) else { throw ValidationError("--tenant: \(TenantID.problem(tenant) ?? "invalid")") }
            let outcome = try await KeysCommand.withVault(options) { store, vault in
                let columns = SchemaMigrations.sealedColumns.map { SealedColumn(table: $0.table, column: $0.column) }
                let outcome = try await TenantKeyRotation(vault: vault, columns: columns).run(tenant: tenant, by: CLIIdentity.principal.name)
                try await CLIIdentity.record(store.postgres, "keys.rotate-tenant", tenant: tenant,
                                             detail: ["version": String(outcome.version), "resealed": String(outcome.resealed)])
                return outcome
            }
            if options.json {
                return try options.printJSON(["tenant": tenant, "version": String(outcome.version), "resealed": String(outcome.resealed),
                                              "deletedVersions": String(outcome.deletedVersions), "resumed": String(outcome.resumed)])
            }
            print("\(tenant): data key version \(outcome.version)\(outcome.resumed ? " (rotation resumed)" : ""), \(outcome.resealed) secret(s) re-sealed, \(outcome.deletedVersions) old version(s) deleted")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open every sealed secret with the configured keys (proves an old master key can be dropped).",
            discussion: "Exit 1 when anything does not open; each failure is named (never its content).")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let report = try await KeysCommand.withVault(options) { store, vault in
                try await SealedInventory(store: store, vault: vault).check()
            }
            if options.json { try options.printJSON(report) } else {
                print("\(report.opened) sealed secret(s) open with the configured keys; \(report.failures.count) do not")
                for failure in report.failures { print("  \(failure)") }
            }
            if !report.failures.isEmpty { throw ExitCode(1) }
        }
    }
}

/// Everything sealed at rest, opened one by one: tenant data keys, every sealed column, the
/// personal-data keys and the router's sealed Redis entries.
struct SealedInventory {
    let store: RoutingStores
    let vault: CredentialVault

    struct Report: Encodable {
        var opened = 0
        var failures: [String] = []
    }

    func check() async throws -> Report {
        var report = Report()
        func attempt(_ what: String, _ body: () async throws -> Void) async {
            do { try await body(); report.opened += 1 } catch { report.failures.append("\(what): \(error)") }
        }
        for (table, column) in SchemaMigrations.sealedColumns {
            let rows = try await store.postgres.query("SELECT tenant_id, \"\(column)\" FROM \"\(table)\" WHERE \"\(column)\" IS NOT NULL")
            for row in rows.rows {
                guard let tenant = row[0], let sealed = row[1] else { continue }
                await attempt("\(table).\(column) of \(tenant)") { _ = try await vault.open(sealed, tenant: tenant) }
            }
        }
        for tenant in try await store.postgres.query("SELECT tenant_id FROM tenant_personal_keys").rows.compactMap({ $0[0] }) {
            await attempt("personal-data keys of \(tenant)") { _ = try await vault.personalDataKeys(tenant: tenant) }
        }
        for (field, what) in [(store.keys.voiceTokens, "voice tokens"), (store.keys.brazeAccess, "Braze access"),
                              (store.keys.personalKeys, "lead-cache keys")] {
            for (tenant, sealed) in try await store.redis.send(["HGETALL", field]).hash.sorted(by: { $0.key < $1.key }) {
                await attempt("\(what) of \(tenant) in Redis") {
                    switch field {
                    case store.keys.voiceTokens: _ = try VoiceTokenSet.open(sealed, tenant: tenant, keyRing: vault.keyRing)
                    case store.keys.brazeAccess:
                        guard try BrazeAccess.open(sealed, tenant: tenant, keyRing: vault.keyRing) != nil else { throw VaultError("does not open") }
                    default: _ = try RouterPersonalKeys.open(sealed, tenant: tenant, keyRing: vault.keyRing)
                    }
                }
            }
        }
        return report
    }
}
