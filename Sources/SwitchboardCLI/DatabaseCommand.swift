import ArgumentParser
import Postgres
import Schema

/// `switchboard db …`: schema migrations.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "Postgres schema.",
                                                    subcommands: [Migrate.self, Status.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply the migrations that are missing.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let client = PostgresClient(try options.settings().postgres)
            do {
                let applied = try await SchemaMigrations.migrator.migrate(client)
                await client.shutdown()
                if options.json { return try options.printJSON(["applied": applied]) }
                print(applied.isEmpty ? "schema is up to date" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
            } catch {
                await client.shutdown()
                throw CLIFailure("migration failed: \(error)")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Which migrations are applied.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let client = PostgresClient(try options.settings().postgres)
            do {
                let applied = Set(try await SchemaMigrations.migrator.appliedVersions(client))
                await client.shutdown()
                let rows = SchemaMigrations.all.map { (version: $0.version, name: $0.name, applied: applied.contains($0.version)) }
                if options.json { return try options.printJSON(rows.map { ["version": "\($0.version)", "name": $0.name, "applied": "\($0.applied)"] }) }
                for row in rows { print("\(row.applied ? "applied" : "pending")  \(row.version)  \(row.name)") }
            } catch let error as PostgresError {
                await client.shutdown()
                throw CLIFailure("cannot read migrations: \(error)")
            }
        }
    }
}
