/// An error from the queue API, with a code callers (and the CLI) can switch on.
public struct QueueError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        case invalidJob
        case invalidName
        case invalidLimit
        case invalidCron
        case notFound
        case unexpectedReply
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
