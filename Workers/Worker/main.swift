import Foundation
import HTTPClient
import Imports
import Logging
import Observability
import Postgres
import Probes
import Queue
import Redis
import ServiceLifecycle
import Settings
import Vault

/// The `worker` process: works the queues named in SB_QUEUES with every registered job type.
/// Wiring only; the behaviour lives in the Queue module and the job modules.
let env = Environment()
let (common, settings, importSettings) = settingsOrExit("worker") { () throws -> (CommonSettings, WorkerSettings, ImportSettings?) in
    let settings = try WorkerSettings(env)
    let runsImports = settings.queues.contains(env.string("SB_IMPORT_QUEUE", default: "imports"))
    return (try CommonSettings(env, defaultPort: 9101), settings,
            runsImports || env.optional("SB_MASTER_KEYS") != nil ? try ImportSettings(env) : nil)
}

let metricsRegistry = Telemetry.bootstrap(logLevel: common.logLevel)
let logger = Logger(label: "switchboard.worker")
let redis = RedisClient(common.redis)
let postgres = PostgresClient(common.postgres)
let http = HTTPClient(maxConnections: max(4, settings.worker.concurrency))
var jobs = JobRegistry(ProbeJobs.definitions(http: http, postgres: postgres))

var services: [any Service] = []
do {
    // The import engine, when this worker runs its queue (or SB_MASTER_KEYS is set for it).
    if let importSettings {
        let vault = CredentialVault(keyRing: importSettings.keyRing, postgres: postgres)
        let pipeline = ImportPipeline(store: ImportStore(postgres: postgres, vault: vault),
                                      queue: try JobQueue(name: importSettings.queue, prefix: common.keyPrefix, redis: redis),
                                      connectors: importSettings.connectors(http: http),
                                      catalog: try PlatformCatalog.bundled(), nightWindow: importSettings.nightWindow,
                                      notifier: ImportNotifier(slackWebhookURL: importSettings.slackWebhookURL, http: http), logger: logger)
        try await pipeline.applyRateLimits(marginMs: settings.rateLimitMarginMs)
        pipeline.definitions.forEach { jobs.register($0) }
    }
    for name in settings.queues {
        let queue = try JobQueue(name: name, prefix: common.keyPrefix, redis: redis)
        for (group, limit) in settings.rateLimits {
            try await queue.setRateLimit(group: group, limit, marginMs: settings.rateLimitMarginMs)
        }
        for (group, limit) in settings.concurrencyLimits { try await queue.setConcurrencyLimit(group: group, limit) }
        services.append(QueueWorker(queue: queue, registry: jobs, configuration: settings.worker, logger: logger))
    }
} catch {
    logger.critical("cannot start", metadata: ["error": "\(error)"])
    exit(1)
}
services.append(OpsServer.make(host: common.httpHost, port: common.httpPort, registry: metricsRegistry, logger: logger,
                               health: {
                                   do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" }
                               },
                               onBound: { port in
                                   logger.info("worker ready", metadata: ["queues": "\(settings.queues)", "port": "\(port)",
                                                                          "pid": "\(ProcessInfo.processInfo.processIdentifier)"])
                               }))

let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                              gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
await redis.shutdown()
await postgres.shutdown()
await http.shutdown()
