import Basics
import ArgumentParser
import Foundation
import Postgres
import Redis
import Routing
import RoutingCore

/// `switchboard routing …`: rules (versions, validation, activation), API keys and cached leads
/// of the call router.
struct RoutingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routing", abstract: "Call-router configuration.",
                                                    subcommands: [Rules.self, Publish.self, ApiKey.self, Lead.self, VoiceToken.self, Integration.self,
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
        guard let postgres = store.postgres else { return }
        try await CLIIdentity.record(postgres, action, tenant: tenant, target: target)
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
        static let configuration = CommandConfiguration(commandName: "api-key", abstract: "Create an API key for a tenant's dialers (shown once).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String

        func run() async throws {
            let key = try await RoutingCommand.withStore(options) { store in
                let key = try await store.access.createAPIKey(tenant: tenant)
                try await RoutingCommand.audit(store, "api-key.create", tenant: tenant)
                return key
            }
            if options.json { return try options.printJSON(["tenant": tenant, "apiKey": key]) }
            print(key)
        }
    }

    struct Lead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a lead's CRM fields in the cache (what the Braze refresh does).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Phone number.") var phone: String
        @Option(name: .customLong("field"), help: "name=value, repeatable (e.g. lead_owner=alice@demo.example).") var fields: [String] = []

        func run() async throws {
            let number: PhoneNumber
            do { number = try PhoneNumber(parsing: phone) } catch { throw ValidationError("\(error)") }
            var values: [String: String] = [:]
            for field in fields {
                let parts = field.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--field must look like name=value") }
                values[String(parts[0])] = String(parts[1])
            }
            guard !values.isEmpty else { throw ValidationError("give at least one --field") }
            try await RoutingCommand.withStore(options) { try await $0.access.cacheLead(tenant: tenant, phone: number, fields: values) }
            if options.json { return try options.printJSON(["phone": number.e164]) }
            print("cached \(number.e164) for \(tenant)")
        }
    }
}
