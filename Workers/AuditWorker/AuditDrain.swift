import Logging
import Metrics
import Routing
import ServiceLifecycle

/// The drain loop as a service: stores batches of the audit stream until SIGTERM (it stops
/// between batches); while Postgres is down it waits and retries with backoff, and the stream
/// holds the backlog. Rows Postgres refuses are quarantined (`switchboard quarantine list`).
struct AuditDrain: Service {
    let log: AuditLog
    /// Asked for this month's and the coming months' partitions at start and every hour.
    let retention: AuditRetention
    let consumer: String
    let batch: Int
    let logger: Logger
    let stored = Counter(label: "switchboard_audit_entries_stored_total")
    let failures = Counter(label: "switchboard_audit_store_failures_total")
    let quarantined = Counter(label: "switchboard_quarantined_total", dimensions: [("source", "audit")])

    func run() async throws {
        var backoffMs = 200
        var partitionsChecked: ContinuousClock.Instant?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await log.prepare()
                if partitionsChecked.map({ ContinuousClock.now - $0 > .seconds(3600) }) ?? true {
                    try await retention.preparePartitions()
                    partitionsChecked = .now
                }
                let drained = try await log.drain(consumer: consumer, count: batch)
                stored.increment(by: drained.stored)
                if drained.quarantined > 0 {
                    quarantined.increment(by: drained.quarantined)
                    logger.error("audit rows refused by Postgres were quarantined", metadata: ["count": "\(drained.quarantined)"])
                }
                backoffMs = 200
            } catch {
                failures.increment()
                logger.warning("audit batch not stored, will retry", metadata: ["error": "\(error)", "retryMs": "\(backoffMs)"])
                let wait = backoffMs
                _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(wait)) }
                backoffMs = min(backoffMs * 2, 5000)
            }
        }
    }
}
