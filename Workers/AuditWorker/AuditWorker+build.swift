import Access
import Curl
import Foundation
import Logging
import Observability
import Postgres
import Queue
import Redis
import Routing
import RoutingCore
import Vault

/// Builds the audit-worker: the drain loop, the worker of the `audit` queue (retention and chain
/// checks the scheduler fires), and the health / metrics server. `onBound` learns the HTTP port.
func buildAuditWorker(_ settings: AuditWorkerSettings, registry: MetricsRegistry,
                      onBound: @escaping @Sendable (Int) -> Void = { _ in }) throws -> ProcessApp {
    let common = settings.common
    let logger = Logger(label: "switchboard.audit-worker")
    let redis = RedisClient(common.redis)
    // Every drain's writers hold a connection at once, and the queue's jobs need one more.
    var database = common.postgres
    database.poolSize = max(database.poolSize, settings.drains * settings.writers + 1)
    let postgres = PostgresClient(database)
    let log = AuditLog(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: common.keyPrefix),
                       vault: CredentialVault(keyRing: settings.keyRing, postgres: postgres), writers: settings.writers)
    let retention = AuditRetention(postgres: postgres)
    // Consumer names stay stable across restarts (the first keeps the process's name), so each
    // loop finishes what it had read before.
    let drains = (0..<settings.drains).map { i in
        AuditDrain(log: log, retention: retention, consumer: i == 0 ? common.consumerName : "\(common.consumerName)-\(i)", batch: settings.batch, logger: logger)
    }
    let http = HTTPClient(maxConnections: 1, policy: common.outbound)
    let jobs = AuditJobs(log: log, actions: UserActionLog(postgres: postgres), retention: retention, http: http,
                         slackWebhookURL: settings.slackWebhookURL, logger: logger)
    let worker = QueueWorker(queue: try JobQueue(name: AuditJobs.queue, prefix: common.keyPrefix, redis: redis), registry: JobRegistry(jobs.definitions),
                             configuration: QueueWorkerConfiguration(concurrency: 1), logger: logger)
    let ops = try OpsServer.make(host: common.httpHost, port: common.httpPort, tls: common.tls, registry: registry, logger: logger,
                             health: { do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" } },
                             onBound: { port in
                                 logger.info("audit-worker ready", metadata: ["port": "\(port)"])
                                 onBound(port)
                             })
    return ProcessApp(services: drains + [worker, ops], logger: logger, onStop: {
        await redis.shutdown()
        await postgres.shutdown()
        await http.shutdown()
    })
}
