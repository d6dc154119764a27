import Logging
import Observability
import Queue
import Redis

/// Builds the scheduler: the cron loop over the configured schedules and the health / metrics
/// server. `onBound` learns the HTTP port.
func buildScheduler(_ settings: SchedulerSettings, registry: MetricsRegistry,
                    onBound: @escaping @Sendable (Int) -> Void = { _ in }) throws -> ProcessApp {
    let common = settings.common
    let logger = Logger(label: "switchboard.scheduler")
    let redis = RedisClient(common.redis)
    let prefix = common.keyPrefix
    let count = settings.schedules.count
    let scheduler = try CronScheduler(schedules: settings.schedules, tickMs: settings.tickMs, logger: logger) { name in
        try JobQueue(name: name, prefix: prefix, redis: redis)
    }
    let ops = try OpsServer.make(host: common.httpHost, port: common.httpPort, tls: common.tls, registry: registry, logger: logger,
                             health: { do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" } },
                             onBound: { port in
                                 logger.info("scheduler ready", metadata: ["schedules": "\(count)", "port": "\(port)"])
                                 onBound(port)
                             })
    return ProcessApp(services: [scheduler, ops], logger: logger, onStop: { await redis.shutdown() })
}
