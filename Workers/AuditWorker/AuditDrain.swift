import Logging
import Metrics
import Routing
import ServiceLifecycle

/// The drain loop as a service: stores batches of the audit stream until SIGTERM (it stops
/// between batches); while Postgres is down it waits and retries with backoff, and the stream
/// holds the backlog.
struct AuditDrain: Service {
    let log: AuditLog
    let consumer: String
    let batch: Int
    let logger: Logger
    let stored = Counter(label: "switchboard_audit_entries_stored_total")
    let failures = Counter(label: "switchboard_audit_store_failures_total")

    func run() async throws {
        var backoffMs = 200
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await log.prepare()
                let n = try await log.drain(consumer: consumer, count: batch)
                stored.increment(by: n)
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
