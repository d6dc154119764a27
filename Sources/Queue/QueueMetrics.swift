import Metrics
import NIOConcurrencyHelpers

/// The queue's metrics (swift-metrics; the process exports them on /metrics).
struct QueueMetrics: Sendable {
    struct PerType: Sendable {
        let processed: Counter
        let failed: Counter
        let retried: Counter
        let dead: Counter
        let rateLimited: Counter
        let waitTime: Timer
        let runTime: Timer
    }

    let queue: String
    let inFlight: Gauge
    let ready: Gauge
    let delayed: Gauge
    let active: Gauge
    let deadSet: Gauge
    /// Jobs sent to the dead set for crashing their worker (the queue's quarantine), all time.
    let crashedWorker: Gauge
    let rateLimitWaits: Counter
    private let perType = NIOLockedValueBox<[String: PerType]>([:])

    init(queue: String) {
        self.queue = queue
        let q = [("queue", queue)]
        inFlight = Gauge(label: "switchboard_jobs_in_flight", dimensions: q)
        ready = Gauge(label: "switchboard_queue_depth", dimensions: q + [("state", "ready")])
        delayed = Gauge(label: "switchboard_queue_depth", dimensions: q + [("state", "delayed")])
        active = Gauge(label: "switchboard_queue_depth", dimensions: q + [("state", "active")])
        deadSet = Gauge(label: "switchboard_queue_depth", dimensions: q + [("state", "dead")])
        crashedWorker = Gauge(label: "switchboard_quarantined", dimensions: q + [("source", "crashed-worker")])
        rateLimitWaits = Counter(label: "switchboard_rate_limit_waits_total", dimensions: q)
    }

    func forType(_ type: String) -> PerType {
        perType.withLockedValue { cache in
            if let existing = cache[type] { return existing }
            let d = [("queue", queue), ("type", type)]
            let made = PerType(
                processed: Counter(label: "switchboard_jobs_processed_total", dimensions: d),
                failed: Counter(label: "switchboard_jobs_failed_total", dimensions: d),
                retried: Counter(label: "switchboard_jobs_retried_total", dimensions: d),
                dead: Counter(label: "switchboard_jobs_dead_total", dimensions: d),
                rateLimited: Counter(label: "switchboard_jobs_rate_limited_total", dimensions: d),
                waitTime: Timer(label: "switchboard_job_wait_seconds", dimensions: d, preferredDisplayUnit: .seconds),
                runTime: Timer(label: "switchboard_job_run_seconds", dimensions: d, preferredDisplayUnit: .seconds))
            cache[type] = made
            return made
        }
    }

    func record(_ stats: QueueStats) {
        ready.record(stats.ready)
        delayed.record(stats.delayed)
        active.record(stats.active)
        deadSet.record(stats.dead)
        crashedWorker.record(stats.counters["crashed"] ?? 0)
    }
}
