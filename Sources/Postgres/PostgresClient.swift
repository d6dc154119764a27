import BlockingIO
import Logging

/// Where Postgres is and how many connections to keep.
public struct PostgresConfiguration: Sendable {
    /// A libpq conninfo string or `postgresql://user@host:port/db` URL.
    public var url: String
    public var poolSize: Int
    /// When set, every connection uses this schema first in its search path (tests use one each).
    public var schema: String?

    public init(url: String = "postgresql://switchboard@127.0.0.1:5432/switchboard", poolSize: Int = 4, schema: String? = nil) {
        self.url = url
        self.poolSize = poolSize
        self.schema = schema
    }
}

/// A pool of libpq connections with an async API; every call runs on the pool's own threads.
public final class PostgresClient: Sendable {
    public let configuration: PostgresConfiguration
    private let pool: BlockingConnectionPool<PostgresConnection>

    /// Creates a client; connections are opened lazily.
    public init(_ configuration: PostgresConfiguration, logger: Logger = Logger(label: "switchboard.postgres")) {
        self.configuration = configuration
        self.pool = BlockingConnectionPool(size: configuration.poolSize, logger: logger) {
            let connection = try PostgresConnection.connect(configuration.url)
            if let schema = configuration.schema {
                try connection.query("SELECT set_config('search_path', $1, false)", ["\"\(schema)\", public"])
            }
            return connection
        }
    }

    /// Closes idle connections and stops the I/O threads.
    public func shutdown() async { await pool.shutdown() }

    /// Runs one parameterised statement.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PostgresRows {
        try await pool.withConnection { try $0.query(sql, parameters) }
    }

    /// Runs `body` inside one transaction on one connection (on a pool thread).
    public func transaction<R: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> R) async throws -> R {
        try await pool.withConnection { try $0.transaction(body) }
    }

    /// Bulk-inserts rows with COPY.
    @discardableResult
    public func copy(into table: String, columns: [String], rows: [[String?]]) async throws -> Int {
        try await pool.withConnection { try $0.copy(into: table, columns: columns, rows: rows) }
    }

    /// Borrows a connection for several statements outside a transaction.
    public func withConnection<R: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> R) async throws -> R {
        try await pool.withConnection(body)
    }
}
