import Foundation
import Logging
import Observability
import Postgres
import Redis
import Routing
import RoutingCore

/// Builds the audit-worker: the drain loop and the health / metrics server. `onBound` learns
/// the HTTP port.
func buildAuditWorker(_ settings: AuditWorkerSettings, registry: MetricsRegistry,
                      onBound: @escaping @Sendable (Int) -> Void = { _ in }) -> ProcessApp {
    let common = settings.common
    let logger = Logger(label: "switchboard.audit-worker")
    let redis = RedisClient(common.redis)
    let postgres = PostgresClient(common.postgres)
    let log = AuditLog(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: common.keyPrefix))
    let drain = AuditDrain(log: log, consumer: common.consumerName, batch: settings.batch, logger: logger)
    let ops = OpsServer.make(host: common.httpHost, port: common.httpPort, registry: registry, logger: logger,
                             health: { do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" } },
                             onBound: { port in
                                 logger.info("audit-worker ready", metadata: ["port": "\(port)"])
                                 onBound(port)
                             })
    return ProcessApp(services: [drain, ops], logger: logger, onStop: {
        await redis.shutdown()
        await postgres.shutdown()
    })
}
