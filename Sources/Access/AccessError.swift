/// Why an access request failed: the console maps `unauthenticated` to 401, `forbidden` to
/// 403, `invalidInput` to 400, `notFound` to 404, `conflict` to 409 and `locked` to 429.
public struct AccessError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public enum Code: Sendable, Equatable { case unauthenticated, forbidden, invalidInput, notFound, conflict, locked }
    public let code: Code
    public let message: String
    /// For `locked`: seconds until another try is accepted.
    public let retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { message }
}
