/// An outbound HTTP failure before any response arrived.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        case timeout
        case connection
        case invalidRequest
        /// The outbound policy refuses the URL (scheme, or an internal address).
        case refused
        /// The answer broke a limit (body size, header size): a hostile or broken endpoint.
        case tooLarge
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "http \(code): \(message)" }

    /// Whether retrying the same request can never help (a malformed or refused URL): callers
    /// fail such work at once. An answer over the limits is not: the next one may be sane, and
    /// the retries are bounded by the job's attempts.
    public var isPermanent: Bool { code == .invalidRequest || code == .refused }
}
