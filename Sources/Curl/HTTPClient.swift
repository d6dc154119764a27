import BlockingIO
import Logging

/// Outbound HTTP on libcurl: a pool of easy handles (so connections are reused), each used
/// on the pool's own threads, never on an event loop.
public final class HTTPClient: Sendable {
    public let connectTimeoutMs: Int
    public let timeoutMs: Int
    /// What this client may connect to (see `OutboundPolicy`).
    public let policy: OutboundPolicy
    /// The largest response body a request accepts unless it says otherwise.
    public let maxResponseBytes: Int
    private let pool: BlockingConnectionPool<CurlEasy>

    /// Creates a client with at most `maxConnections` requests in flight. Redirects are never
    /// followed, TLS is 1.2 or newer, and response bodies and headers are capped.
    public init(maxConnections: Int = 8, connectTimeoutMs: Int = 2000, timeoutMs: Int = 10000, policy: OutboundPolicy = .open,
                maxResponseBytes: Int = 8 << 20, logger: Logger = Logger(label: "switchboard.http")) {
        self.connectTimeoutMs = connectTimeoutMs
        self.timeoutMs = timeoutMs
        self.policy = policy
        self.maxResponseBytes = max(1024, maxResponseBytes)
        self.pool = BlockingConnectionPool(size: maxConnections, logger: logger) { try CurlEasy() }
    }

    /// Stops the I/O threads.
    public func shutdown() async { await pool.shutdown() }

    /// Sends the request and returns whatever status came back; throws only when no response arrived.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let connectTimeoutMs = self.connectTimeoutMs
        let timeoutMs = self.timeoutMs
        let limits = CurlEasy.Limits(policy: policy, maxResponseBytes: request.maxResponseBytes ?? maxResponseBytes)
        return try await pool.withConnection { easy in
            try easy.perform(request, defaultConnectTimeoutMs: connectTimeoutMs, defaultTimeoutMs: timeoutMs, limits: limits)
        }
    }
}
