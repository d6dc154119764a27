/// An error of the import domain, with a code the CLI and the API map to an exit status or HTTP status.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// Bad input from a person or a file: 400 / exit 64.
        case invalidInput
        case unknownPlatform
        case notFound
        /// The request is in a state that does not allow this (e.g. cancel a completed import): 409.
        case conflict
        /// The platform rejected the credentials.
        case invalidCredentials
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
