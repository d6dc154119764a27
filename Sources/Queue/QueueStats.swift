/// A snapshot of one queue, read atomically from Redis.
public struct QueueStats: Sendable, Codable, Equatable {
    public let queue: String
    public let ready: Int
    public let delayed: Int
    public let active: Int
    public let dead: Int
    public let paused: Bool
    /// Lifetime counters: enqueued, processed, failed, retried, dead, ratelimited, stalled.
    public let counters: [String: Int]
}

/// A job in the dead set, as `queue dead list` shows it.
public struct DeadJob: Sendable, Codable, Equatable {
    public let id: String
    public let type: String
    public let key: String
    public let payload: String
    public let attempts: Int
    public let error: String
    public let diedAtMs: Int
}
