import ArgumentParser
import Postgres
import Schema

/// `switchboard db …`: schema migrations.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "Postgres schema.",
                                                    subcommands: [Migrate.self, Status.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the migrations that are missing, then grant the application's role what it needs.",
            discussion: """
                Runs as the schema's owner: SB_POSTGRES_OWNER_URL when set, else SB_POSTGRES_URL. The processes connect \
                as SB_POSTGRES_APP_ROLE (switchboard_app), which may only INSERT and SELECT the audit tables.
                """)
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            var configuration = try options.settings().postgres
            let env = options.environment()
            if let owner = env.optional("SB_POSTGRES_OWNER_URL") { configuration.url = owner }
            let role = env.string("SB_POSTGRES_APP_ROLE", default: "switchboard_app")
            let client = PostgresClient(configuration)
            do {
                let applied = try await SchemaMigrations.migrator.migrate(client)
                let granted = try await SchemaMigrations.grantApplication(role: role, client)
                await client.shutdown()
                if options.json { return try options.printJSON(["applied": applied.map(String.init), "grantedTo": granted ? [role] : []]) }
                print(applied.isEmpty ? "schema is up to date" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
                if !granted { print("note: role \(role) does not exist; nothing granted (ops/lib.sh creates it)") }
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
