/// An error from the Postgres client, with a code callers can switch on.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// The connection could not be made or broke (the pool discards it).
        case connection
        /// The server rejected the statement; `sqlState` says why.
        case query
        /// COPY failed part-way.
        case copy
    }

    public let code: Code
    public let message: String
    /// The five-character SQLSTATE, when the server sent one (e.g. 23505 unique violation).
    public let sqlState: String?

    public init(_ code: Code, _ message: String, sqlState: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String {
        "postgres \(code)\(sqlState.map { " [\($0)]" } ?? ""): \(message)"
    }
}
