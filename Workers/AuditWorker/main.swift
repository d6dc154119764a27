import Foundation
import Logging
import Metrics
import Observability
import Postgres
import Redis
import Routing
import ServiceLifecycle
import Settings

/// The `audit-worker` process: copies the routing audit stream into Postgres in batches,
/// acknowledging only after commit. While Postgres is down it waits and retries; the stream
/// holds the backlog. Wiring only; the work is `AuditLog.drain`.
let env = Settings.Environment()
let (common, batch) = settingsOrExit("audit-worker") { () throws -> (CommonSettings, Int) in
    (try CommonSettings(env, defaultPort: 9106), try env.int("SB_AUDIT_BATCH", default: 1000, range: 1...50_000))
}
let registry = Telemetry.bootstrap(logLevel: common.logLevel)
let logger = Logger(label: "switchboard.audit-worker")
let redis = RedisClient(common.redis)
let postgres = PostgresClient(common.postgres)
let log = AuditLog(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: common.keyPrefix))
let consumer = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"

/// The drain loop as a service: stops between batches on SIGTERM.
struct AuditDrain: Service {
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

let ops = OpsServer.make(host: common.httpHost, port: common.httpPort, registry: registry, logger: logger,
                         health: { do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" } },
                         onBound: { port in logger.info("audit-worker ready", metadata: ["port": "\(port)"]) })
let group = ServiceGroup(configuration: .init(services: [.init(service: AuditDrain()), .init(service: ops)],
                                              gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
await redis.shutdown()
await postgres.shutdown()
