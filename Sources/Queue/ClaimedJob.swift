/// A job a worker holds under a lease: `token` proves the lease in every later call.
public struct ClaimedJob: Sendable, Equatable {
    public let id: String
    public let token: String
    public let type: String
    public let payload: String
    /// 1 on the first try.
    public let attempt: Int
    public let key: String
    /// Redis time (ms) of enqueue and of this claim.
    public let enqueuedAtMs: Int
    public let claimedAtMs: Int
    /// The job's key has a rate limit: its budget was spent at the claim, so it must start now.
    public let rateLimited: Bool
}

/// What one claim returned.
public struct ClaimBatch: Sendable {
    public let jobs: [ClaimedJob]
    /// When nothing was claimed: milliseconds until work may become ready (a delayed job, a key's
    /// budget); -1 when rate-limited work is ready but needs a free handler.
    public let retryAfterMs: Int
}
