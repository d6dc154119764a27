import Foundation
import Logging
import Observability
import Queue
import Redis
import ServiceLifecycle
import Settings

/// The `scheduler` process: fires the cron schedules of SB_SCHEDULES_FILE (ops/schedules.json).
/// Run as many as you like; each slot fires once across all of them.
let env = Environment()
let (common, schedules, tickMs) = settingsOrExit("scheduler") { () throws -> (CommonSettings, [CronSchedule], Int) in
    let path = env.string("SB_SCHEDULES_FILE", default: "ops/schedules.json")
    guard let data = FileManager.default.contents(atPath: path) else { throw SettingsError("SB_SCHEDULES_FILE: cannot read \(path)") }
    return (try CommonSettings(env, defaultPort: 9102), try CronSchedule.parseList(json: Array(data)),
            try env.int("SB_SCHEDULER_TICK_MS", default: 250, range: 10...60_000))
}

let metricsRegistry = Telemetry.bootstrap(logLevel: common.logLevel)
let logger = Logger(label: "switchboard.scheduler")
let redis = RedisClient(common.redis)
let scheduler = try CronScheduler(schedules: schedules, tickMs: tickMs, logger: logger) { name in
    try JobQueue(name: name, prefix: common.keyPrefix, redis: redis)
}
let ops = OpsServer.make(host: common.httpHost, port: common.httpPort, registry: metricsRegistry, logger: logger,
                         health: { do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" } },
                         onBound: { port in logger.info("scheduler ready", metadata: ["schedules": "\(schedules.count)", "port": "\(port)"]) })
let group = ServiceGroup(configuration: .init(services: [.init(service: scheduler), .init(service: ops)],
                                              gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
await redis.shutdown()
