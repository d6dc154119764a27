import Curl
import Foundation
import Logging
import Observability
import Postgres
import Queue
import Redis
import Routing
import RoutingCore
import ServiceLifecycle
import VendorClients
import Vault

/// Builds the crm-worker: the `routing` queue's worker (alerts, callbacks, lead-cache jobs),
/// the dialer poller, outcome write-back, the miss filler, the email alerter, and the HTTP
/// server for Braze's change webhook, health and metrics. `onBound` learns the HTTP port.
func buildCRMWorker(_ settings: CRMSettings, registry: MetricsRegistry,
                    onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> ProcessApp {
    let common = settings.common
    let logger = Logger(label: "switchboard.crm-worker")
    let redis = RedisClient(common.redis)
    let postgres = PostgresClient(common.postgres)
    let http = HTTPClient(maxConnections: 8, policy: common.outbound)
    let mail = MailSender(caFile: common.outbound.caFile)
    let close: @Sendable () async -> Void = {
        await redis.shutdown()
        await postgres.shutdown()
        await http.shutdown()
        await mail.shutdown()
    }
    let vault = CredentialVault(keyRing: settings.keyRing, postgres: postgres)
    let stores = RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: common.keyPrefix))
    let (access, rules) = (stores.access, stores.rules)
    do {
        let queue = try JobQueue(name: RoutingQueue.name, prefix: common.keyPrefix, redis: redis)
        for (group, limit) in settings.rateLimits { try await queue.setRateLimit(group: group, limit) }
        let cache = LeadCache(access: access, rules: rules, vault: vault, http: http, queue: queue, liveCutoffMs: settings.brazeCutoffMs)
        let jobs = JobRegistry(RoutingJobs(access: access, credentials: stores.credentials, vault: vault, http: http).definitions + cache.definitions)
        let services: [any Service] = [
            QueueWorker(queue: queue, registry: jobs, configuration: QueueWorkerConfiguration(concurrency: settings.concurrency), logger: logger),
            DialerPoller(access: access, vault: vault, http: http, intervalMs: settings.pollMs, probeMs: settings.probeMs),
            OutcomeWriter(cache: cache, quarantine: Quarantine(postgres: postgres), consumer: common.consumerName),
            MissFiller(cache: cache),
            IntegrationAlerter(access: access, vault: vault, email: EmailClient(sender: mail), intervalMs: settings.alertMs),
            try OpsServer.make(host: common.httpHost, port: common.httpPort, tls: common.tls, registry: registry, logger: logger,
                           health: { do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" } },
                           onBound: { port in
                               logger.info("crm-worker ready", metadata: ["port": "\(port)"])
                               onBound(port)
                           },
                           routes: { BrazeWebhook(cache: cache).routes(into: $0) }),
        ]
        return ProcessApp(services: services, logger: logger, onStop: close)
    } catch {
        await close()
        throw error
    }
}
