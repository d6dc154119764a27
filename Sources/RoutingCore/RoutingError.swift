/// An error of the routing domain, with a code the HTTP layer maps to a status once.
public struct RoutingError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable { case invalidInput, unknownDialer, invalidRules }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}
