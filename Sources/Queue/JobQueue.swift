import Redis

/// One named queue in Redis: the producer and operator API (enqueue, stats, dead set, pause,
/// limits) and the worker calls (claim, ack, fail, extend, release, reclaim).
///
/// All of a queue's keys live under `<prefix>:{<name>}`, one Redis Cluster hash tag, and every
/// state change is one atomic script, so any number of processes on any number of machines can
/// share the queue.
public struct JobQueue: Sendable {
    public let name: String
    public let prefix: String
    public let redis: RedisClient

    /// The key every other key of this queue starts with.
    public var base: String { "\(prefix):{\(name)}" }

    /// Opens the queue `name`; names are letters, digits, '.', '_' and '-'.
    public init(name: String, prefix: String = "sb", redis: RedisClient) throws {
        try Self.validateName(name, what: "queue name")
        try Self.validateName(prefix, what: "key prefix")
        self.name = name
        self.prefix = prefix
        self.redis = redis
    }

    static func validateName(_ name: String, what: String) throws {
        guard !name.isEmpty, name.count <= 100, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
            throw QueueError(.invalidName, "\(what) '\(name)' must be 1-100 letters, digits, '.', '_' or '-'")
        }
    }

    private func run(_ script: RedisScript, _ args: [String]) async throws -> RedisValue {
        try await redis.run(script, keys: [base], args: args)
    }

    // MARK: Producers

    /// Enqueues one job; returns its id (or the id of the pending copy with the same unique key).
    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> EnqueueResult {
        try await enqueue([job])[0]
    }

    /// Enqueues many jobs atomically, in chunks of 1,000 per round trip.
    @discardableResult
    public func enqueue(_ jobs: [NewJob]) async throws -> [EnqueueResult] {
        for job in jobs { try job.validate() }
        var results: [EnqueueResult] = []
        results.reserveCapacity(jobs.count)
        var start = 0
        while start < jobs.count {
            let chunk = jobs[start..<min(start + 1000, jobs.count)]
            var args = [String(chunk.count)]
            args.reserveCapacity(1 + chunk.count * 7)
            for job in chunk { args.append(contentsOf: job.scriptArguments) }
            let reply = try await run(QueueScripts.enqueue, args)
            guard let items = reply.array, items.count == chunk.count else {
                throw QueueError(.unexpectedReply, "enqueue returned \(reply)")
            }
            results.append(contentsOf: items.map { EnqueueResult(reply: $0.string ?? "") })
            start += chunk.count
        }
        return results
    }

    // MARK: Workers

    /// Claims up to `max` ready jobs under a lease of `leaseMs`, honouring pauses, rate limits and
    /// concurrency limits. At most `maxRateLimited` come from rate-limited keys (default: all):
    /// their budget is spent at the claim, so a worker takes only as many as it can start at once.
    public func claim(max: Int, leaseMs: Int, maxRateLimited: Int? = nil) async throws -> ClaimBatch {
        let reply = try await run(QueueScripts.claim, [String(max), String(leaseMs), String(maxRateLimited ?? max)])
        guard let items = reply.array, items.count >= 3 else { throw QueueError(.unexpectedReply, "claim returned \(reply)") }
        let now = items[0].int ?? 0
        let token = items[2].string ?? ""
        var jobs: [ClaimedJob] = []
        var i = 3
        while i + 2 < items.count {
            let key = items[i].string ?? "", limited = items[i + 1].int == 1, count = items[i + 2].int ?? 0
            i += 3
            guard i + count * 5 <= items.count else { throw QueueError(.unexpectedReply, "claim returned a short batch") }
            for _ in 0..<count {
                jobs.append(ClaimedJob(id: items[i].string ?? "", token: token, type: items[i + 1].string ?? "",
                                       payload: items[i + 2].string ?? "", attempt: items[i + 3].int ?? 1, key: key,
                                       enqueuedAtMs: items[i + 4].int ?? now, claimedAtMs: now, rateLimited: limited))
                i += 5
            }
        }
        return ClaimBatch(jobs: jobs, retryAfterMs: items[1].int ?? 0)
    }

    /// Acknowledges finished jobs in one round trip; returns how many still held their lease.
    @discardableResult
    public func ack(_ jobs: [ClaimedJob]) async throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        var args: [String] = []
        args.reserveCapacity(jobs.count * 3)
        for job in jobs { args.append(job.id); args.append(job.token); args.append(job.key) }
        return try await run(QueueScripts.ack, args).int ?? 0
    }

    /// Records a failed attempt: retry after `delayMs`, dead-letter, or (rate limited) pause the key.
    @discardableResult
    public func fail(id: String, token: String, outcome: FailureOutcome, delayMs: Int, message: String) async throws -> String {
        try await run(QueueScripts.fail, [id, token, outcome.rawValue, String(max(0, delayMs)), message]).string ?? ""
    }

    /// Renews leases; returns the ids whose lease was lost to another worker.
    public func extend(_ jobs: [(id: String, token: String)], leaseMs: Int) async throws -> [String] {
        guard !jobs.isEmpty else { return [] }
        var args = [String(leaseMs)]
        for job in jobs { args.append(job.id); args.append(job.token) }
        return try await run(QueueScripts.extend, args).array?.compactMap(\.string) ?? []
    }

    /// Hands jobs back unfinished, first in line, without spending an attempt.
    @discardableResult
    public func release(_ jobs: [(id: String, token: String)]) async throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        var args: [String] = []
        for job in jobs { args.append(job.id); args.append(job.token) }
        return try await run(QueueScripts.release, args).int ?? 0
    }

    /// Requeues up to `limit` jobs whose lease expired because their worker died; a job that has
    /// now lost its worker `crashLimit` times goes to the dead set as "crashed its worker".
    @discardableResult
    public func reclaimExpired(limit: Int = 500, crashLimit: Int = 3) async throws -> Int {
        try await run(QueueScripts.reclaim, [String(limit), String(max(1, crashLimit))]).int ?? 0
    }

    /// Records a running job's progress.
    public func progress(id: String, token: String, done: Int, total: Int) async throws {
        _ = try await run(QueueScripts.progress, [id, token, String(done), String(total)])
    }

    /// Waits until an enqueue signals new work, or `timeoutMs` passes.
    public func waitForWork(timeoutMs: Int) async throws {
        _ = try await redis.blockingPop("\(base):wake", timeoutMs: max(1, timeoutMs))
    }

    // MARK: Operators

    /// Depth, in-flight, dead and lifetime counters.
    public func stats() async throws -> QueueStats {
        let reply = try await run(QueueScripts.stats, [])
        guard let items = reply.array, items.count >= 6 else { throw QueueError(.unexpectedReply, "stats returned \(reply)") }
        var counters: [String: Int] = [:]
        var i = 6
        while i + 1 < items.count {
            if let name = items[i].string, name != "ready" { counters[name] = items[i + 1].int ?? 0 }
            i += 2
        }
        return QueueStats(queue: name, ready: max(0, items[1].int ?? 0), delayed: items[2].int ?? 0, active: items[3].int ?? 0,
                          dead: items[4].int ?? 0, paused: items[5].int == 1, counters: counters)
    }

    /// The newest dead jobs first.
    public func deadJobs(limit: Int = 50) async throws -> [DeadJob] {
        let ids = try await redis.send(["ZREVRANGE", "\(base):dead", "0", String(max(0, limit - 1))]).array?.compactMap(\.string) ?? []
        guard !ids.isEmpty else { return [] }
        let replies = try await redis.pipeline(ids.map { ["HMGET", "\(base):job:\($0)", "type", "key", "payload", "fails", "err", "died"] })
        return zip(ids, replies).compactMap { id, reply in
            guard let f = reply.array, f.count == 6, let type = f[0].string else { return nil }
            return DeadJob(id: id, type: type, key: f[1].string ?? "", payload: f[2].string ?? "", attempts: f[3].int ?? 0,
                           error: f[4].string ?? "", diedAtMs: f[5].int ?? 0)
        }
    }

    /// Moves one dead job (or all, with nil) back to ready with fresh attempts; returns how many.
    @discardableResult
    public func retryDead(id: String?) async throws -> Int {
        try await run(QueueScripts.retryDead, [id ?? "*"]).int ?? 0
    }

    /// Deletes one dead job (or all, with nil); returns how many.
    @discardableResult
    public func purgeDead(id: String?) async throws -> Int {
        try await run(QueueScripts.purgeDead, [id ?? "*"]).int ?? 0
    }

    /// Pauses the whole queue (key nil) or one key, until `resume`.
    public func pause(key: String? = nil) async throws {
        _ = try await run(QueueScripts.pause, [key ?? ""])
    }

    /// How a key is paused: until a time (ms since 1970, a vendor's 429 or outage), `.manual`
    /// (until `resume`), or nil when it is not.
    public enum KeyPause: Sendable, Equatable {
        case until(ms: Int)
        case manual
    }

    /// The key's pause, if any (a pause that has passed counts as none).
    public func pause(of key: String) async throws -> KeyPause? {
        let replies = try await redis.pipeline([["HGET", "\(base):paused", key], ["TIME"]])
        guard let value = replies[0].string.flatMap(Int.init) else { return nil }
        if value < 0 { return .manual }
        return value > replies[1].timeMs ? .until(ms: value) : nil
    }

    /// Resumes the whole queue (key nil) or one key; also ends a 429 pause early.
    public func resume(key: String? = nil) async throws {
        _ = try await run(QueueScripts.resume, [key ?? ""])
    }

    /// Sets (or with nil removes) the fleet-wide rate limit of a key group, e.g. "gong".
    public func setRateLimit(group: String, _ limit: RateLimit?, marginMs: Int = 25) async throws {
        try Self.validateName(group, what: "limit group")
        if let limit {
            try await redis.send(["HSET", "\(base):limits", group, limit.redisSpec(marginMs: marginMs)])
        } else {
            try await redis.send(["HDEL", "\(base):limits", group])
        }
    }

    /// The keys whose vendor refused below the documented limit, with the rate learned for each.
    public func learnedRates() async throws -> [LearnedRate] { try await learnedRates(only: nil) }

    private func learnedRates(only key: String?) async throws -> [LearnedRate] {
        let flat = try await run(QueueScripts.learnedRates, key.map { [$0] } ?? []).array ?? []
        var rates: [LearnedRate] = []
        var i = 0
        while i + 4 < flat.count {
            if let key = flat[i].string, let rate = flat[i + 1].string.flatMap(Double.init), let doc = flat[i + 2].string.flatMap(Double.init) {
                rates.append(LearnedRate(key: key, perSecond: rate, documentedPerSecond: doc,
                                         ceilingPerSecond: flat[i + 3].string.flatMap(Double.init) ?? doc,
                                         sinceMs: flat[i + 4].string.flatMap(Int.init) ?? 0))
            }
            i += 5
        }
        return rates
    }

    /// The learned rate of one key, nil while it runs at the documented limit (one hash field
    /// read: every finished import job asks, for its ETA).
    public func learnedRate(key: String) async throws -> LearnedRate? {
        try await learnedRates(only: key).first
    }

    /// Forgets what was learned about a key (it goes back to the documented limit).
    public func forgetLearnedRate(key: String) async throws {
        _ = try await redis.pipeline([["HDEL", "\(base):learn", key], ["HDEL", "\(base):pace", key]])
    }

    /// Sets (or with nil removes) the most jobs of one key that may run at once in a key group.
    public func setConcurrencyLimit(group: String, _ limit: Int?) async throws {
        try Self.validateName(group, what: "limit group")
        if let limit {
            guard limit > 0 else { throw QueueError(.invalidLimit, "concurrency limit must be at least 1") }
            try await redis.send(["HSET", "\(base):conc", group, String(limit)])
        } else {
            try await redis.send(["HDEL", "\(base):conc", group])
            // Keys parked at the old limit become eligible again.
            for key in try await redis.send(["SMEMBERS", "\(base):blocked"]).array?.compactMap(\.string) ?? [] {
                try await redis.send(["SREM", "\(base):blocked", key])
                try await resume(key: key)
            }
        }
    }

    /// Fires a cron slot: enqueues `job` unless this slot (ms) was already fired for `schedule`.
    /// Returns the job id when this call fired it.
    public func fireCron(schedule: String, slotMs: Int, job: NewJob) async throws -> String? {
        try job.validate()
        let id = try await run(QueueScripts.fireCron, [schedule, String(slotMs)] + job.scriptArguments).string ?? ""
        return id.isEmpty ? nil : id
    }

    /// A job's stored fields (for inspection and tests); empty once the job completed.
    public func jobFields(id: String) async throws -> [String: String] {
        let flat = try await redis.send(["HGETALL", "\(base):job:\(id)"]).array ?? []
        var fields: [String: String] = [:]
        var i = 0
        while i + 1 < flat.count {
            fields[flat[i].string ?? ""] = flat[i + 1].string ?? ""
            i += 2
        }
        return fields
    }
}

/// The result of enqueueing one job.
public enum EnqueueResult: Sendable, Equatable {
    /// A new job was created.
    case created(id: String)
    /// A job with the same unique key is pending or running: nothing was added.
    case duplicate(existingId: String)

    init(reply: String) {
        if reply.hasPrefix("-") { self = .duplicate(existingId: String(reply.dropFirst())) } else { self = .created(id: reply) }
    }

    /// The id of the created or already-pending job.
    public var id: String {
        switch self {
        case .created(let id), .duplicate(let id): return id
        }
    }
}

/// How a failed attempt is recorded.
public enum FailureOutcome: String, Sendable {
    /// Try again after a backoff (dead once attempts run out).
    case retry
    /// Dead-letter now (bad credentials, malformed payload).
    case fatal
    /// The vendor said 429: pause the job's key fleet-wide and put the job back, attempt not spent.
    case rateLimited = "ratelimited"
    /// The vendor is down for the key: pause it fleet-wide and put the job back, attempt not spent.
    case unavailable
}
