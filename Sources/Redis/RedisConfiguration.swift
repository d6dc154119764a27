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
    /// The ACL user every connection authenticates as (nil: `default`); needs `password`.
    public var username: String?
    /// Sent with AUTH on every new connection (nil: no AUTH). Never logged.
    public var password: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, poolSize: Int = 8,
                connectTimeoutMs: Int = 1000, commandTimeoutMs: Int = 5000, connectAttempts: Int = 6,
                username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.poolSize = poolSize
        self.connectTimeoutMs = connectTimeoutMs
        self.commandTimeoutMs = commandTimeoutMs
        self.connectAttempts = connectAttempts
        self.username = username
        self.password = password
    }

    /// The AUTH command each new connection sends first (argv), or nil.
    var authCommand: [String]? {
        guard let password else { return nil }
        return ["AUTH"] + (username.map { [$0] } ?? []) + [password]
    }
}
