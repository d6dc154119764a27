import Queue
import Settings

/// What the `worker` process reads from the environment, besides `CommonSettings`.
struct WorkerSettings: Sendable {
    /// SB_QUEUES (default): the queues this process works.
    var queues: [String]
    /// SB_CONCURRENCY (10), SB_PREFETCH (50 × concurrency, a cap), SB_LEASE_MS (15000), SB_POLL_MS (1000),
    /// SB_DRAIN_MS (10000), SB_MAINTENANCE_MS (1000).
    var worker: QueueWorkerConfiguration
    /// SB_RATE_LIMITS, e.g. "gong=3/s,10000/d;probe=3/s": applied to every queue at start.
    var rateLimits: [(String, RateLimit)]
    /// SB_CONCURRENCY_LIMITS, e.g. "gong=4": most jobs of one key running at once, per group.
    var concurrencyLimits: [(String, Int)]
    /// SB_RATE_LIMIT_MARGIN_MS (25): added to every rate window to absorb network jitter.
    var rateLimitMarginMs: Int

    init(_ env: EnvironmentVariables) throws {
        queues = env.list("SB_QUEUES", default: ["default"])
        let concurrency = try env.int("SB_CONCURRENCY", default: 10, range: 1...10_000)
        worker = QueueWorkerConfiguration(
            concurrency: concurrency,
            prefetch: try env.int("SB_PREFETCH", default: 50 * concurrency, range: 0...100_000),
            leaseMs: try env.int("SB_LEASE_MS", default: 15_000, range: 500...3_600_000),
            pollMs: try env.int("SB_POLL_MS", default: 1000, range: 10...60_000),
            drainTimeoutMs: try env.int("SB_DRAIN_MS", default: 10_000, range: 0...3_600_000),
            maintenanceMs: try env.int("SB_MAINTENANCE_MS", default: 1000, range: 50...60_000))
        rateLimits = try env.pairs("SB_RATE_LIMITS").map { group, spec in
            do { return (group, try RateLimit(parsing: spec)) } catch { throw SettingsError("SB_RATE_LIMITS: \(group): \(error)") }
        }
        concurrencyLimits = try env.pairs("SB_CONCURRENCY_LIMITS").map { group, text in
            guard let n = Int(text), n > 0 else { throw SettingsError("SB_CONCURRENCY_LIMITS: \(group)=\(text) must be a positive number") }
            return (group, n)
        }
        rateLimitMarginMs = try env.int("SB_RATE_LIMIT_MARGIN_MS", default: 25, range: 0...60_000)
    }
}
