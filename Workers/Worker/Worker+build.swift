import Curl
import Foundation
import Imports
import Logging
import Observability
import Postgres
import Queue
import Redis
import ServiceLifecycle
import Settings
import Vault

/// Builds the worker: one `QueueWorker` per queue with the probe jobs and (when configured) the
/// import engine's jobs, and the health / metrics server. `onBound` learns the HTTP port.
func buildWorker(_ settings: WorkerAppSettings, registry: MetricsRegistry,
                 onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> ProcessApp {
    let common = settings.common
    let logger = Logger(label: "switchboard.worker")
    let redis = RedisClient(common.redis)
    let postgres = PostgresClient(common.postgres)
    let http = HTTPClient(maxConnections: max(4, settings.worker.worker.concurrency), policy: settings.common.outbound)
    let close: @Sendable () async -> Void = {
        await redis.shutdown()
        await postgres.shutdown()
        await http.shutdown()
    }
    do {
        var jobs = JobRegistry(ProbeJobs.definitions(http: http, postgres: postgres))
        if let imports = settings.imports {
            let vault = CredentialVault(keyRing: imports.keyRing, postgres: postgres)
            let pipeline = ImportPipeline(store: ImportStore(postgres: postgres, vault: vault),
                                          queue: try JobQueue(name: imports.queue, prefix: common.keyPrefix, redis: redis),
                                          connectors: imports.connectors(http: http),
                                          catalog: try PlatformCatalog.bundled(), nightWindow: imports.nightWindow,
                                          notifier: ImportNotifier(slackWebhookURL: imports.slackWebhookURL, http: http), timing: imports.timing,
                                          logger: logger)
            try await pipeline.applyRateLimits(marginMs: settings.worker.rateLimitMarginMs)
            pipeline.definitions.forEach { jobs.register($0) }
        }
        var services: [any Service] = []
        for name in settings.worker.queues {
            let queue = try JobQueue(name: name, prefix: common.keyPrefix, redis: redis)
            for (group, limit) in settings.worker.rateLimits {
                try await queue.setRateLimit(group: group, limit, marginMs: settings.worker.rateLimitMarginMs)
            }
            for (group, limit) in settings.worker.concurrencyLimits { try await queue.setConcurrencyLimit(group: group, limit) }
            services.append(QueueWorker(queue: queue, registry: jobs, configuration: settings.worker.worker, logger: logger))
        }
        let queues = settings.worker.queues
        services.append(try OpsServer.make(host: common.httpHost, port: common.httpPort, tls: common.tls, registry: registry, logger: logger,
                                       health: { do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" } },
                                       onBound: { port in
                                           logger.info("worker ready", metadata: ["queues": "\(queues)", "port": "\(port)",
                                                                                  "pid": "\(ProcessInfo.processInfo.processIdentifier)"])
                                           onBound(port)
                                       }))
        return ProcessApp(services: services, logger: logger, onStop: close)
    } catch {
        await close()
        throw error
    }
}
