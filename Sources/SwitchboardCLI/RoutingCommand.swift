import Basics
import ArgumentParser
import Foundation
import Postgres
import Redis
import Routing
import RoutingCore
import Vault

/// `switchboard routing …`: rules (versions, validation, activation), API keys and cached leads
/// of the call router.
struct RoutingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routing", abstract: "Call-router configuration.",
                                                    subcommands: [Rules.self, Publish.self, ApiKey.self, Lead.self, VoiceToken.self, Access.self, Integration.self,
                                                                  Trace.self, Search.self, Breakers.self])

    /// Runs `body` with the routing stores (Redis and Postgres from the environment).
    static func withStore<R>(_ options: GlobalOptions, _ body: (RoutingStores) async throws -> R) async throws -> R {
        let settings = try options.settings()
        let postgres = PostgresClient(settings.postgres)
        defer { Task { await postgres.shutdown() } }
        return try await withRedis(options) { redis, settings in
            do { return try await body(RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: settings.keyPrefix))) }
            catch let error as RoutingError { throw ValidationError(error.message) }
            catch let error as PostgresError { throw CLIFailure("database: \(error)") }
        }
    }

    static func readRules(_ file: String) throws -> RoutingRules {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        do { return try JSONDecoder().decode(RoutingRules.self, from: data) } catch {
            throw ValidationError("\(file) is not a rules document: \(error)")
        }
    }

    /// Records a change made from the CLI in the user action log (needs Postgres).
    static func audit(_ store: RoutingStores, _ action: String, tenant: String, target: String = "") async throws {
        try await CLIIdentity.record(store.postgres, action, tenant: tenant, target: target)
    }

    /// Who the CLI acts as: the operating-system login (never a name given on the command line).
    static var actor: String { CLIIdentity.principal.name }

    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Routing rules: validate, save, activate, show, history.",
                                                        subcommands: [Validate.self, Save.self, Activate.self, Show.self, History.self])
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a rules file without saving it.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Rules file (see ops/demo/routing-rules.json).") var file: String

        func run() async throws {
            let rules = try RoutingCommand.readRules(file)
            do { try rules.validate() } catch let error as RoutingError { throw ValidationError(error.message) }
            if options.json { return try options.printJSON(["valid": true]) }
            print("\(file): valid (\(rules.dialers.count) dialers, \(rules.ownerRoutes.count) owner, \(rules.tierRoutes.count) tier, \(rules.timeRules.count) time rules)")
        }
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate rules and store them as the tenant's next version (not active yet).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Rules file.") var file: String
        @Option(help: "Why this change (kept with the version).") var note: String?

        func run() async throws {
            let rules = try RoutingCommand.readRules(file)
            let version = try await RoutingCommand.withStore(options) { store in
                let version = try await store.rules.save(rules, tenant: tenant, actor: RoutingCommand.actor, note: note)
                try await RoutingCommand.audit(store, "rules.save", tenant: tenant, target: "v\(version)")
                return version
            }
            if options.json { return try options.printJSON(["tenant": tenant, "version": String(version)]) }
            print("saved rules version \(version) for \(tenant) (activate with: switchboard routing rules activate --tenant \(tenant) --version \(version))")
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a saved version active on every router replica.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Version to activate.") var version: Int

        func run() async throws {
            try await RoutingCommand.withStore(options) { store in
                try await store.rules.activate(tenant: tenant, version: version, actor: RoutingCommand.actor)
                try await RoutingCommand.audit(store, "rules.activate", tenant: tenant, target: "v\(version)")
            }
            if options.json { return try options.printJSON(["tenant": tenant, "version": String(version)]) }
            print("rules version \(version) active for \(tenant)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the tenant's versions (or one version's rules).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "One version, with its rules.") var version: Int?

        func run() async throws {
            let versions = try await RoutingCommand.withStore(options) { try await $0.rules.versions(tenant: tenant, version: version) }
            if options.json { return try options.printJSON(versions) }
            if versions.isEmpty { throw ValidationError(version.map { "tenant \(tenant) has no version \($0)" } ?? "tenant \(tenant) has no saved rules") }
            if version != nil, let one = versions.first {
                print("version \(one.version)\(one.active ? " (active)" : "") by \(one.createdBy) at \(one.createdAt)\(one.note.map { ": \($0)" } ?? "")")
                print(try JSONEncoder.sortedText(one.rules, pretty: true))
                return
            }
            for v in versions {
                print("\(v.active ? "*" : " ") v\(v.version)  \(v.createdAt)  \(v.createdBy)\(v.note.map { "  \($0)" } ?? "")")
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Who changed the tenant's rules, when, and what changed.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Entries to show.") var limit: Int = 20

        func run() async throws {
            let changes = try await RoutingCommand.withStore(options) { try await $0.rules.changes(tenant: tenant, limit: limit) }
            if options.json { return try options.printJSON(changes) }
            for c in changes {
                let diff = RulesDiff.describe(before: c.before, after: c.after)
                print("\(c.at)  \(c.actor)  \(c.action) v\(c.version)\(diff.isEmpty ? "" : ": " + diff.joined(separator: "; "))")
            }
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate rules (JSON file), save them as a new version and activate it.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Rules file (see ops/demo/routing-rules.json).") var file: String
        @Option(help: "Why this change.") var note: String?
        @Flag(help: "Keep the active version when the file holds the same rules.") var ifChanged = false

        func run() async throws {
            let rules = try RoutingCommand.readRules(file)
            let version = try await RoutingCommand.withStore(options) { store in
                let version = try await store.rules.publish(rules, tenant: tenant, actor: RoutingCommand.actor, note: note, ifChanged: ifChanged)
                try await RoutingCommand.audit(store, "rules.publish", tenant: tenant, target: "v\(version)")
                return version
            }
            if options.json { return try options.printJSON(["tenant": tenant, "version": String(version)]) }
            print("rules version \(version) active for \(tenant)")
        }
    }

    struct ApiKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "api-key", abstract: "The API keys a tenant's dialers call the router with.",
                                                        subcommands: [CreateKey.self, ListKeys.self, RevokeKey.self, RotateKey.self],
                                                        defaultSubcommand: CreateKey.self)
    }

    struct CreateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create an API key (printed once; only its hash is kept).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "What the key is for (e.g. the dialer that uses it).") var label = ""
        @Option(help: "Days until it expires (default: until revoked).") var expiresInDays: Int?

        func run() async throws {
            if let days = expiresInDays, !(1...3650).contains(days) { throw ValidationError("--expires-in-days must be 1 to 3650") }
            let expires = expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) }
            let (info, key) = try await RoutingCommand.withStore(options) { store in
                let made = try await store.credentials.createAPIKey(tenant: tenant, label: label, createdBy: RoutingCommand.actor, expiresAt: expires)
                try await RoutingCommand.audit(store, "api-key.create", tenant: tenant, target: made.info.id)
                return made
            }
            if options.json { return try options.printJSON(["tenant": tenant, "id": info.id, "apiKey": key]) }
            print(key)
        }
    }

    struct ListKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "A tenant's API keys (never the keys themselves).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String

        func run() async throws {
            let keys = try await RoutingCommand.withStore(options) { try await $0.credentials.apiKeys(tenant: tenant) }
            try RoutingCommand.printCredentials(keys, options: options, none: "no API keys for \(tenant)")
        }
    }

    struct RevokeKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke an API key at once (every router refuses it within a second).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "The key's id (ak_…, from `api-key list`).") var id: String

        func run() async throws {
            let info = try await RoutingCommand.withStore(options) { store in
                let info = try await store.credentials.revokeAPIKey(tenant: tenant, id: id, by: RoutingCommand.actor)
                if info != nil { try await RoutingCommand.audit(store, "api-key.revoke", tenant: tenant, target: id) }
                return info
            }
            guard let info else { throw ValidationError("tenant \(tenant) has no API key \(id)") }
            if options.json { return try options.printJSON(info) }
            print("revoked \(id) of \(tenant)")
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate",
                                                        abstract: "Replace an API key: a new one is printed, the old one keeps working for the overlap.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "The key's id (ak_…).") var id: String
        @Option(help: "Minutes the old key keeps working (0: revoked at once; at most 30 days).") var overlapMinutes = 60

        func run() async throws {
            guard (0...43_200).contains(overlapMinutes) else { throw ValidationError("--overlap-minutes must be 0 to 43200") }
            let made = try await RoutingCommand.withStore(options) { store in
                let made = try await store.credentials.rotateAPIKey(tenant: tenant, id: id, overlapSeconds: overlapMinutes * 60, by: RoutingCommand.actor)
                if let made { try await RoutingCommand.audit(store, "api-key.rotate", tenant: tenant, target: "\(id) -> \(made.info.id)") }
                return made
            }
            guard let made else { throw ValidationError("tenant \(tenant) has no active API key \(id)") }
            if options.json { return try options.printJSON(["tenant": tenant, "id": made.info.id, "apiKey": made.key, "replaces": id]) }
            print(made.key)
        }
    }

    /// Prints credentials as a table (or JSON).
    static func printCredentials(_ items: [RouterCredentials.Info], options: GlobalOptions, none: String) throws {
        if options.json { return try options.printJSON(items) }
        if items.isEmpty { return print(none) }
        for i in items {
            let until = i.revokedAt.map { "revoked \($0) by \(i.revokedBy ?? "?")" } ?? i.expiresAt.map { "expires \($0)" } ?? "no expiry"
            print("\(i.id)  \(i.state.padding(toLength: 8, withPad: " ", startingAt: 0))  created \(i.createdAt) by \(i.createdBy)  \(until)\(i.label.isEmpty ? "" : "  \(i.label)")")
        }
    }

    struct Lead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put leads' CRM fields in the cache (what the Braze refresh does), sealed, keyed by blind index.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Phone number.") var phone: String?
        @Option(name: .customLong("field"), help: "name=value, repeatable (e.g. lead_owner=alice@demo.example).") var fields: [String] = []
        @Option(help: #"Instead of --phone: a file of JSON lines, {"phone": "+1…", "fields": {"lead_owner": "…"}} each; every line is checked before any is cached."#)
        var file: String?

        struct Line: Decodable {
            let phone: String
            let fields: [String: String]
        }

        func validate() throws {
            guard (phone == nil) != (file == nil) else { throw ValidationError("give either --phone (with --field) or --file") }
            if file != nil, !fields.isEmpty { throw ValidationError("--field goes with --phone; a --file line carries its own fields") }
        }

        /// Checks one lead: a phone number and 1-50 fields of bounded text.
        static func check(_ phone: String, _ values: [String: String]) throws -> PhoneNumber {
            let number: PhoneNumber
            do { number = try PhoneNumber(parsing: phone) } catch { throw ValidationError("\(error)") }
            guard (1...50).contains(values.count) else { throw ValidationError("a lead needs 1-50 fields") }
            for (name, value) in values {
                if let problem = UntrustedText.problem(name, maxBytes: 100) { throw ValidationError("field name \(problem)") }
                if let problem = UntrustedText.problem(value, maxBytes: 1000, allowEmpty: true) { throw ValidationError("field \(name) \(problem)") }
            }
            return number
        }

        func run() async throws {
            var leads: [(PhoneNumber, [String: String])] = []
            if let file {
                guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
                for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
                    guard let lead = try? JSONDecoder().decode(Line.self, from: Data(line)) else {
                        throw ValidationError(#"line \#(n + 1) of \#(file) is not {"phone": "…", "fields": {…}}"#)
                    }
                    do { leads.append((try Self.check(lead.phone, lead.fields), lead.fields)) } catch let error as ValidationError {
                        throw ValidationError("line \(n + 1) of \(file): \(error.message)")
                    }
                }
            } else {
                var values: [String: String] = [:]
                for field in fields {
                    let parts = field.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--field must look like name=value") }
                    values[String(parts[0])] = String(parts[1])
                }
                guard !values.isEmpty else { throw ValidationError("give at least one --field") }
                leads.append((try Self.check(phone ?? "", values), values))
            }
            let ring = try RoutingCommand.keyRing(options)
            try await RoutingCommand.withStore(options) { store in
                let vault = LeadVault(vault: CredentialVault(keyRing: ring, postgres: store.postgres), redis: store.redis, keys: store.keys)
                let sealed = try await vault.leads(tenant)
                let commands = try leads.map { ["HSET", sealed.leadKey($0.0)] + (try sealed.hashArguments($0.1)) }
                for start in stride(from: 0, to: commands.count, by: 2000) {
                    let replies = try await store.redis.pipeline(Array(commands[start..<min(commands.count, start + 2000)]))
                    if let failure = replies.first(where: { if case .error = $0 { return true } else { return false } }) {
                        throw CLIFailure("redis refused a lead: \(failure)")
                    }
                }
            }
            if options.json { return try options.printJSON(["tenant": tenant, "cached": String(leads.count)]) }
            if leads.count == 1 { return print("cached \(leads[0].0.e164) for \(tenant)") }
            print("cached \(leads.count) leads for \(tenant)")
        }
    }
}
