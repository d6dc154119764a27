/// A snapshot of one queue, read atomically from Redis.
public struct QueueStats: Sendable, Codable, Equatable {
    public let queue: String
    public let ready: Int
    public let delayed: Int
    public let active: Int
    public let dead: Int
    public let paused: Bool
    /// Lifetime counters: enqueued, processed, failed, retried, dead, ratelimited, unavailable,
    /// learned, stalled, crashed.
    public let counters: [String: Int]
    /// The keys whose vendor refused below the documented limit (filled in by `queue stats`).
    public var learnedRates: [LearnedRate]? = nil
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
