/// An error from the Redis client, with a code callers can switch on.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// The connection could not be made or broke (the pool discards it).
        case connection
        /// No reply within the command timeout (the connection is discarded).
        case timeout
        /// Redis answered with an error reply.
        case server
        /// The reply did not have the expected shape.
        case unexpectedReply
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "redis \(code): \(message)" }
}
