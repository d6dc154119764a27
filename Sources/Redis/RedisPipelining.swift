/// Anything that sends a batch of Redis commands and returns their replies in order: the
/// blocking-pool client of the workers and tools, and the router's event-loop client. Code that
/// reads or changes shared state takes this, so it serves both.
public protocol RedisPipelining: Sendable {
    /// Sends `commands` in one round trip; the replies in the same order (error replies as values).
    func pipeline(_ commands: [[String]]) async throws -> [RedisValue]
    /// Runs a Lua script by SHA (its source on NOSCRIPT); an error reply is thrown.
    func run(_ script: RedisScript, keys: [String], args: [String]) async throws -> RedisValue
}

extension RedisClient: RedisPipelining {}
extension EventLoopRedisClient: RedisPipelining {}

extension RedisPipelining {
    /// Sends one command; an error reply is thrown as `RedisError.server`.
    @discardableResult
    public func send(_ args: [String]) async throws -> RedisValue {
        let reply = try await pipeline([args])[0]
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }
}
