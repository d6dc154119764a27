import Logging
import BlockingIO

/// A pool of Redis connections with an async API.
///
/// hiredis is blocking, so every call runs on the pool's own threads, never on a SwiftNIO
/// event loop or Swift's cooperative threads. Broken connections are dropped; new ones are
/// opened with exponential backoff.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let pool: BlockingConnectionPool<RedisConnection>

    /// Creates a client; connections are opened lazily.
    public init(_ configuration: RedisConfiguration, logger: Logger = Logger(label: "switchboard.redis")) {
        self.configuration = configuration
        self.pool = BlockingConnectionPool(size: configuration.poolSize, connectAttempts: configuration.connectAttempts,
                                           logger: logger) { try RedisConnection.connect(configuration) }
    }

    /// Closes idle connections and stops the I/O threads.
    public func shutdown() async { await pool.shutdown() }

    /// Sends one command; an error reply is thrown as `RedisError.server`.
    @discardableResult
    public func send(_ args: [String]) async throws -> RedisValue {
        let reply = try await withConnection { try $0.send(args) }
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    /// Sends the commands in one round trip; error replies come back as `.error` values.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisValue] {
        try await withConnection { try $0.pipeline(commands) }
    }

    /// Runs a Lua script by SHA, sending its source when Redis answers NOSCRIPT.
    public func run(_ script: RedisScript, keys: [String], args: [String]) async throws -> RedisValue {
        let reply = try await withConnection { connection in
            let call = ["EVALSHA", script.sha1, String(keys.count)] + keys + args
            let reply = try connection.send(call)
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                // Not cached (a restart, a failover, SCRIPT FLUSH): EVAL sends the source once and
                // caches it, with no window for another flush between a LOAD and a retry.
                return try connection.send(["EVAL", script.source, String(keys.count)] + keys + args)
            }
            return reply
        }
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    /// BLPOP with its own timeout; nil when the timeout passed.
    public func blockingPop(_ key: String, timeoutMs: Int) async throws -> String? {
        let reply = try await withConnection { connection in
            try connection.withTimeout(ms: timeoutMs + self.configuration.commandTimeoutMs) {
                try connection.send(["BLPOP", key, secondsArgument(ms: timeoutMs)])
            }
        }
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply.array?.last?.string
    }

    /// Borrows a connection and runs `body` with it on the I/O threads.
    public func withConnection<R: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> R) async throws -> R {
        try await pool.withConnection(body)
    }
}

/// Milliseconds as the decimal seconds Redis blocking commands take ("0.250").
func secondsArgument(ms: Int) -> String {
    let fraction = String(ms % 1000)
    return "\(ms / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}
