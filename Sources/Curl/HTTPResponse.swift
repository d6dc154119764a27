import Basics

/// A response: status, headers (names lower-cased) and body.
public struct HTTPResponse: Sendable {
    public let status: Int
    public let headers: [(String, String)]
    public let body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0 == lower }?.1
    }

    /// The body decoded as UTF-8.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The longest wait a vendor can impose through `Retry-After` (a day); longer asks are clamped.
    public static let maxRetryAfterMs = 86_400_000

    /// `Retry-After` in milliseconds, when given in seconds (the form every vendor we call uses),
    /// clamped to `maxRetryAfterMs`; nil when absent, negative, NaN or not a number.
    public var retryAfterMs: Int? {
        guard let value = header("retry-after")?.trimmingCharacters(in: " ") else { return nil }
        return UntrustedNumber.milliseconds(seconds: value, clampedTo: 0...Self.maxRetryAfterMs)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
