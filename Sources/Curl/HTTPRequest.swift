/// An outbound HTTP request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Milliseconds to establish the connection; nil uses the client's default.
    public var connectTimeoutMs: Int?
    /// Milliseconds for the whole exchange; nil uses the client's default.
    public var timeoutMs: Int?
    /// The largest response body accepted; nil uses the client's default. Larger bodies fail
    /// the request (`HTTPClientError.tooLarge`) instead of filling memory.
    public var maxResponseBytes: Int?

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                connectTimeoutMs: Int? = nil, timeoutMs: Int? = nil, maxResponseBytes: Int? = nil) {
        self.maxResponseBytes = maxResponseBytes
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeoutMs = connectTimeoutMs
        self.timeoutMs = timeoutMs
    }

    /// A request with a JSON body and the matching content type.
    public static func json(_ method: String, _ url: String, body: String, headers: [(String, String)] = []) -> HTTPRequest {
        HTTPRequest(method: method, url: url, headers: headers + [("Content-Type", "application/json")], body: Array(body.utf8))
    }
}
