/// Where Redis is and how patient to be with it.
public struct RedisConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Connections kept open at most; also the number of threads doing blocking I/O.
    public var poolSize: Int
    public var connectTimeoutMs: Int
    public var commandTimeoutMs: Int
    /// Connect attempts (with exponential backoff) before an operation gives up.
    public var connectAttempts: Int

    public init(host: String = "127.0.0.1", port: Int = 6379, poolSize: Int = 8,
                connectTimeoutMs: Int = 1000, commandTimeoutMs: Int = 5000, connectAttempts: Int = 6) {
        self.host = host
        self.port = port
        self.poolSize = poolSize
        self.connectTimeoutMs = connectTimeoutMs
        self.commandTimeoutMs = commandTimeoutMs
        self.connectAttempts = connectAttempts
    }
}
