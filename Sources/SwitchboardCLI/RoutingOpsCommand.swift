import Basics
import ArgumentParser
import Foundation
import Imports
import Postgres
import Redis
import Routing
import RoutingCore
import Vault

/// `switchboard routing voice-token | integration | trace | search | breakers`: what the voice
/// front door signs with, where a tenant's dialers / SMS / Braze live, and the audit trail.
extension RoutingCommand {
    static func keyRing(_ options: GlobalOptions) throws -> MasterKeyRing {
        do { return try ImportSettings(options.environment()).keyRing } catch { throw ValidationError("\(error)") }
    }

    struct VoiceToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "voice-token",
                                                        abstract: "What the tenant's voice platform signs with: auth tokens (Twilio, SignalWire) or a Telnyx public key.",
                                                        subcommands: [SetVoiceToken.self, ListVoiceTokens.self, RevokeVoiceToken.self],
                                                        defaultSubcommand: SetVoiceToken.self)
    }

    struct SetVoiceToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set",
                                                        abstract: "Set the auth token (or the Telnyx public key); the tokens it replaces stop after the overlap.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "The platform's auth token (default: generate one and print it).") var token: String?
        @Option(help: "Minutes the tokens replaced keep being accepted (0: at once; at most 30 days).") var overlapMinutes = 0
        @Option(help: "For Telnyx TeXML: the account's public key (base64), which checks its Ed25519 signatures.") var telnyxPublicKey: String?
        @Flag(help: "Keep the current token when it is the one given.") var ifChanged = false

        func run() async throws {
            guard (0...43_200).contains(overlapMinutes) else { throw ValidationError("--overlap-minutes must be 0 to 43200") }
            if let key = telnyxPublicKey {
                try await RoutingCommand.withStore(options) { store in
                    try await store.access.setTelnyxPublicKey(tenant: tenant, publicKey: key)
                    try await RoutingCommand.audit(store, "voice-key.set", tenant: tenant)
                }
                if token == nil {
                    if options.json { return try options.printJSON(["tenant": tenant, "telnyxPublicKey": "set"]) }
                    return print("Telnyx public key set for \(tenant)")
                }
            }
            let value = token ?? Hex.random(bytes: 20)
            let ring = try RoutingCommand.keyRing(options)
            let info = try await RoutingCommand.withStore(options) { store in
                let info = try await store.credentials.setVoiceToken(tenant: tenant, token: value, overlapSeconds: overlapMinutes * 60,
                                                                     by: RoutingCommand.actor, vault: CredentialVault(keyRing: ring, postgres: store.postgres),
                                                                     ifChanged: ifChanged)
                if info.changed { try await RoutingCommand.audit(store, "voice-token.set", tenant: tenant, target: info.token.id) }
                return info.token
            }
            if options.json { return try options.printJSON(["tenant": tenant, "id": info.id, "token": token == nil ? value : "(as given)"]) }
            print(token == nil ? value : "voice token \(info.id) set for \(tenant)")
        }
    }

    struct ListVoiceTokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "A tenant's voice tokens (never the tokens themselves).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String

        func run() async throws {
            let tokens = try await RoutingCommand.withStore(options) { try await $0.credentials.voiceTokens(tenant: tenant) }
            try RoutingCommand.printCredentials(tokens, options: options, none: "no voice tokens for \(tenant)")
        }
    }

    struct RevokeVoiceToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a voice token at once.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "The token's id (vt_…, from `voice-token list`).") var id: String

        func run() async throws {
            let ring = try RoutingCommand.keyRing(options)
            let info = try await RoutingCommand.withStore(options) { store in
                let info = try await store.credentials.revokeVoiceToken(tenant: tenant, id: id, by: RoutingCommand.actor,
                                                                        vault: CredentialVault(keyRing: ring, postgres: store.postgres))
                if info != nil { try await RoutingCommand.audit(store, "voice-token.revoke", tenant: tenant, target: id) }
                return info
            }
            guard let info else { throw ValidationError("tenant \(tenant) has no voice token \(id)") }
            if options.json { return try options.printJSON(info) }
            print("revoked \(id) of \(tenant)")
        }
    }

    struct Access: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The router's Redis copy of API keys, voice tokens and Braze access.",
                                                        subcommands: [SyncAccess.self])
    }

    struct SyncAccess: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sync",
                                                        abstract: "Rebuild it from Postgres (the crm-worker does so every minute).")
        @OptionGroup var options: GlobalOptions
        @Flag(help: """
            First move keys and tokens only Redis knows (made before Postgres kept them) into Postgres, and delete the lead cache's             entries from before it was sealed (keys named by a plain number).
            """) var adoptLegacy = false

        func run() async throws {
            let ring = try RoutingCommand.keyRing(options)
            let (adopted, plain, synced) = try await RoutingCommand.withStore(options) { store in
                let vault = CredentialVault(keyRing: ring, postgres: store.postgres)
                let adopted = adoptLegacy ? try await store.credentials.adoptLegacy(vault: vault, by: RoutingCommand.actor) : 0
                if adopted > 0 { try await CLIIdentity.record(store.postgres, "routing.access.adopt", tenant: nil, detail: ["adopted": String(adopted)]) }
                let plain = adoptLegacy ? try await LeadVault(vault: vault, redis: store.redis, keys: store.keys).removePlainEntries() : 0
                return (adopted, plain, try await store.credentials.sync(vault: vault, access: store.access))
            }
            if options.json { return try options.printJSON(["adopted": adopted, "apiKeys": synced.apiKeys, "voiceTenants": synced.voiceTenants,
                                                            "brazeTenants": synced.brazeTenants, "leadKeys": synced.leadKeysPublished,
                                                            "plainLeadEntriesRemoved": plain, "removed": synced.removed]) }
            print("\(adopted > 0 ? "adopted \(adopted) from Redis; " : "")\(plain > 0 ? "removed \(plain) unsealed lead-cache entries; " : "")\(synced.apiKeys) API key(s), voice tokens of \(synced.voiceTenants), Braze access of \(synced.brazeTenants) and lead-cache keys of \(synced.leadKeysPublished) tenant(s) in Redis; \(synced.removed) removed")
        }
    }

    struct Integration: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A tenant's dialers, SMS API and Braze: set or list.",
                                                        subcommands: [SetIntegration.self, ListIntegrations.self])
    }

    struct SetIntegration: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Store an integration (credentials encrypted at once).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "The dialer id of the rules, or sms / braze.") var id: String
        @Option(help: "zendesk_talk, dialfire, braze, sms or email.") var kind: String
        @Option(help: "Base URL of the API.") var url: String
        @Option(help: "File holding the secret (API token / auth token), read and encrypted; never printed.") var credentialsFile: String
        @Option(name: .customLong("setting"), help: "name=value, repeatable (zendesk: email, phoneNumberId; dialfire: tenant, line, campaign; sms: accountSid, from, to; braze: segmentId, fields; email: from, to).")
        var settings: [String] = []

        func run() async throws {
            guard let kind = RoutingIntegration.Kind(rawValue: kind) else {
                throw ValidationError("--kind must be one of \(RoutingIntegration.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let data = FileManager.default.contents(atPath: credentialsFile) else { throw ValidationError("cannot read \(credentialsFile)") }
            let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            var values: [String: String] = [:]
            for setting in settings {
                let parts = setting.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ValidationError("--setting must look like name=value") }
                values[String(parts[0])] = String(parts[1])
            }
            let integration = RoutingIntegration(tenant: tenant, id: id, kind: kind, baseURL: url, settings: values)
            let ring = try RoutingCommand.keyRing(options)
            try await RoutingCommand.withStore(options) { store in
                try await store.access.setIntegration(integration, credentials: secret, vault: CredentialVault(keyRing: ring, postgres: store.postgres))
                try await RoutingCommand.audit(store, "integration.set", tenant: integration.tenant, target: integration.id)
            }
            if options.json { return try options.printJSON(integration) }
            print("integration \(id) (\(kind.rawValue)) set for \(tenant)")
        }
    }

    struct ListIntegrations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List integrations (never their credentials).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id (default: all).") var tenant: String?

        func run() async throws {
            let list = try await RoutingCommand.withStore(options) { try await $0.access.integrations(tenant: tenant) }
            if options.json { return try options.printJSON(list) }
            for i in list { print("\(i.tenant)  \(i.id)  \(i.kind.rawValue)  \(i.baseURL)  \(i.settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))") }
        }
    }

    static func withAudit<R>(_ options: GlobalOptions, _ body: (AuditLog) async throws -> R) async throws -> R {
        let ring = try keyRing(options)
        return try await withStore(options) { store in
            try await body(AuditLog(redis: store.redis, postgres: store.postgres, keys: store.keys, vault: CredentialVault(keyRing: ring, postgres: store.postgres)))
        }
    }

    static func printRecords(_ records: [AuditLog.Record], _ options: GlobalOptions) throws {
        if options.json { return try options.printJSON(records) }
        for r in records {
            print("\(r.at)  \(r.kind)\(r.callId.map { "  call \($0)" } ?? "")\(r.caller.map { "  \($0)" } ?? "")\(r.micros.map { "  \($0) µs" } ?? "")")
            print("    \(r.detail)")
        }
    }

    struct Trace: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everything recorded for one call: the decision and each step after it.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Call id (CallSid or the dialer's call id).") var call: String

        func run() async throws {
            let records = try await RoutingCommand.withAudit(options) { try await $0.trace(tenant: tenant, callId: call) }
            if records.isEmpty && !options.json { throw ValidationError("no audit records for call \(call) of \(tenant) (the audit-worker may not have stored them yet)") }
            try RoutingCommand.printRecords(records, options)
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Routing decisions by time range and caller phone.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Caller phone number.") var caller: String?
        @Option(help: "From (ISO 8601, default: 24 hours ago).") var from: String?
        @Option(help: "To (ISO 8601, default: now).") var to: String?
        @Option(help: "Most records.") var limit = 100

        func run() async throws {
            let parse = ISO8601DateFormatter()
            func date(_ text: String?, _ fallback: Date, _ name: String) throws -> Date {
                guard let text else { return fallback }
                guard let d = parse.date(from: text) else { throw ValidationError("--\(name) must be ISO 8601 like 2026-11-22T08:00:00Z") }
                return d
            }
            let end = try date(to, Date(), "to"), start = try date(from, Date().addingTimeInterval(-86_400), "from")
            guard start < end else { throw ValidationError("--from must be before --to") }
            let phone: PhoneNumber?
            do { phone = try caller.map { try PhoneNumber(parsing: $0) } } catch { throw ValidationError("\(error)") }
            let records = try await RoutingCommand.withAudit(options) { try await $0.search(tenant: tenant, from: start, to: end, caller: phone, limit: limit) }
            try RoutingCommand.printRecords(records, options)
        }
    }

    struct Breakers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dialer health as the shared breakers see it, and recent transitions.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String

        func run() async throws {
            let (health, transitions) = try await RoutingCommand.withStore(options) { store in
                (try await DialerState(keys: store.keys).health(tenant: tenant, redis: store.redis).sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value.rawValue] },
                 try await CircuitBreaker(keys: store.keys).transitions(tenant: tenant, redis: store.redis, limit: 20))
            }
            if options.json { return try options.printJSON(["health": health, "transitions": transitions.map { "\($0.at) \($0.integration) \($0.from)→\($0.to)" }]) }
            for i in stride(from: 0, to: health.count - 1, by: 2) { print("\(health[i]): \(health[i + 1])") }
            for t in transitions {
                print("\(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(t.at) / 1000)))  \(t.integration)  \(t.from) → \(t.to)  \(t.reason)")
            }
        }
    }
}
