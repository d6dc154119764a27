import ArgumentParser
import Foundation
import Redis
import Routing

/// `switchboard routing …`: rules, API keys and cached leads of the call router.
struct RoutingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routing", abstract: "Call-router configuration.",
                                                    subcommands: [Publish.self, ApiKey.self, Lead.self])

    static func withService<R>(_ options: GlobalOptions, _ body: (RouteService) async throws -> R) async throws -> R {
        try await withRedis(options) { redis, settings in
            do { return try await body(RouteService(redis: redis, keys: RoutingKeys(prefix: settings.keyPrefix))) } catch let error as RoutingError {
                throw ValidationError(error.message)
            }
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate rules (JSON file) and make them the tenant's active version.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Rules file (see ops/demo/routing-rules.json).") var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let rules: RoutingRules
            do { rules = try JSONDecoder().decode(RoutingRules.self, from: data) } catch {
                throw ValidationError("\(file) is not a rules document: \(error)")
            }
            let version = try await RoutingCommand.withService(options) { try await $0.publish(rules, tenant: tenant) }
            if options.json { return try options.printJSON(["tenant": tenant, "version": version]) }
            print("rules version \(version) active for \(tenant)")
        }
    }

    struct ApiKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "api-key", abstract: "Create an API key for a tenant's dialers (shown once).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String

        func run() async throws {
            let key = try await RoutingCommand.withService(options) { try await $0.createAPIKey(tenant: tenant) }
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
            try await RoutingCommand.withService(options) { try await $0.cacheLead(tenant: tenant, phone: number, fields: values) }
            if options.json { return try options.printJSON(["phone": number.e164]) }
            print("cached \(number.e164) for \(tenant)")
        }
    }
}
