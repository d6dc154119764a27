/// An outbound HTTP failure before any response arrived.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        case timeout
        case connection
        case invalidRequest
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "http \(code): \(message)" }
}
