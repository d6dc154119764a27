/// Applies migrations in order, each in its own transaction, recording them in `schema_migrations`.
///
/// An advisory lock makes concurrent migrators (several processes starting at once) take turns,
/// so each migration runs exactly once.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    public init(_ migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies what is missing; returns the versions applied by this call.
    @discardableResult
    public func migrate(_ client: PostgresClient) async throws -> [Int] {
        let migrations = self.migrations
        return try await client.withConnection { connection in
            try connection.query("SELECT pg_advisory_lock(727274)")
            defer { _ = try? connection.query("SELECT pg_advisory_unlock(727274)") }
            try connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let applied = Set(try connection.query("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap(Int.init) })
            var done: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                try connection.transaction { tx in
                    try tx.execute(script: migration.sql)
                    try tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [String(migration.version), migration.name])
                }
                done.append(migration.version)
            }
            return done
        }
    }

    /// The versions already applied, in order.
    public func appliedVersions(_ client: PostgresClient) async throws -> [Int] {
        let rows = try await client.query("SELECT version FROM schema_migrations ORDER BY version")
        return rows.rows.compactMap { $0[0].flatMap(Int.init) }
    }
}
