/// A job to enqueue: what to run, for which rate-limit key, how urgently, and how often to try.
public struct NewJob: Sendable, Equatable {
    /// The handler name (e.g. "import.gong.call").
    public var type: String
    /// JSON text handed to the handler as is.
    public var payload: String
    /// The rate-limit and concurrency key, e.g. "gong:tenant-42". Limits are configured per group,
    /// the part before the first ':' ("gong"). Jobs of one key run in priority order.
    public var key: String
    /// 0 (lowest) … 9 (most urgent) within a key.
    public var priority: Int
    /// Attempts before the job is dead-lettered.
    public var maxAttempts: Int
    /// Milliseconds to wait before the job becomes ready.
    public var delayMs: Int
    /// While a job with this key is pending or running, enqueueing another one returns the first.
    public var uniqueKey: String?

    public init(type: String, payload: String = "{}", key: String = "default", priority: Int = 5,
                maxAttempts: Int = 5, delayMs: Int = 0, uniqueKey: String? = nil) {
        self.type = type
        self.payload = payload
        self.key = key
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.delayMs = delayMs
        self.uniqueKey = uniqueKey
    }

    /// Checks every field; the message says what is wrong and how to fix it.
    public func validate() throws {
        guard !type.isEmpty, type.count <= 200, type.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
            throw QueueError(.invalidJob, "job type '\(type)' must be 1-200 letters, digits, '.', '_' or '-'")
        }
        guard !key.isEmpty, key.count <= 200, !key.contains(where: { $0.isWhitespace || $0 == "{" || $0 == "}" }) else {
            throw QueueError(.invalidJob, "key '\(key)' must be 1-200 characters without spaces or braces")
        }
        guard (0...9).contains(priority) else { throw QueueError(.invalidJob, "priority \(priority) must be between 0 and 9") }
        guard (1...1000).contains(maxAttempts) else { throw QueueError(.invalidJob, "maxAttempts \(maxAttempts) must be between 1 and 1000") }
        guard delayMs >= 0, delayMs <= 366 * 86_400_000 else { throw QueueError(.invalidJob, "delay must be between 0 and 366 days") }
        if let uniqueKey, uniqueKey.isEmpty || uniqueKey.count > 300 {
            throw QueueError(.invalidJob, "unique key must be 1-300 characters")
        }
        guard payload.utf8.count <= 512 * 1024 else { throw QueueError(.invalidJob, "payload is larger than 512 KiB") }
    }

    /// The seven script arguments that describe this job.
    var scriptArguments: [String] {
        [type, payload, key, String(priority), String(maxAttempts), String(delayMs), uniqueKey ?? ""]
    }
}
