import ArgumentParser
import Foundation
import Routing
import RoutingCore

/// `switchboard quarantine`: what the consumers set aside because it could never be processed
/// (an audit row Postgres refuses, an outcome Braze cannot take), and replaying it after a fix.
struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "List and replay entries the audit-worker and crm-worker quarantined.",
        subcommands: [List.self, Replay.self])

    static func sourceOption(_ text: String?) throws -> Quarantine.Source? {
        guard let text else { return nil }
        guard let source = Quarantine.Source(rawValue: text) else {
            throw ValidationError("--source must be one of \(Quarantine.Source.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return source
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Quarantined entries, newest first (not yet replayed, unless --all).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this source: audit or outcome.") var source: String?
        @Option(help: "Only this tenant.") var tenant: String?
        @Flag(help: "Include entries already replayed.") var all = false
        @Option(help: "Most entries (1-10000).") var limit = 100

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1-10000") }
            _ = try QuarantineCommand.sourceOption(source)
        }

        func run() async throws {
            let source = try QuarantineCommand.sourceOption(source)
            let items = try await RoutingCommand.withAudit(options) { audit in
                try await Quarantine(postgres: audit.postgres).list(source: source, tenant: tenant, includeReplayed: all, limit: limit)
            }
            if options.json { return try options.printJSON(items) }
            if items.isEmpty { return print("nothing quarantined") }
            for item in items {
                print("#\(item.id)  \(item.quarantinedAt)  \(item.source.rawValue)  \(item.tenant ?? "-")  \(item.entryKey)\(item.replayedAt.map { "  replayed \($0)" } ?? "")")
                print("    \(item.reason)")
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hands one quarantined entry back to its consumer (after a fix).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The entry's id (from `switchboard quarantine list`).") var id: Int

        func validate() throws {
            guard id > 0, id < Int(Int32.max) else { throw ValidationError("the id must be a positive number") }
        }

        func run() async throws {
            let item: Quarantine.Item
            do {
                item = try await RoutingCommand.withAudit(options) { audit in try await Quarantine(postgres: audit.postgres).replay(id: id, audit: audit) }
            } catch let error as RoutingError {
                throw ValidationError(error.message)
            }
            if options.json { return try options.printJSON(item) }
            print("replayed #\(item.id) (\(item.source.rawValue) \(item.entryKey))")
        }
    }
}
