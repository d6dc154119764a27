import Foundation
import HTTPClient
import Logging
import Observability
import Postgres
import Queue
import Redis
import Routing
import RoutingIntegrations
import ServiceLifecycle
import Settings
import Vault

/// The `crm-worker` process: keeps routing's view of the outside world fresh and carries out
/// what the router queued — the Braze lead cache (nightly export, change webhooks, misses),
/// outcome write-back to Braze, dialer capacity and health (the poller, feeding the shared
/// circuit breakers), SMS alerts and callback requests (the `routing` job queue), and the email
/// alerts on failure rates and recoveries. Wiring only.
let env = Settings.Environment()
struct CRMSettings {
    let common: CommonSettings
    let keyRing: MasterKeyRing
    let pollMs: Int
    let probeMs: Int
    let brazeCutoffMs: Int
    let alertMs: Int
    let concurrency: Int
    let rateLimits: [(String, RateLimit)]
}
let settings = settingsOrExit("crm-worker") { () throws -> CRMSettings in
    guard let keys = env.optional("SB_MASTER_KEYS") else { throw SettingsError("SB_MASTER_KEYS is not set: integration credentials cannot be opened") }
    let keyRing = try MasterKeyRing(keys: keys, activeIdSetting: env.optional("SB_MASTER_KEY_ID"))
    let limits = try env.pairs("SB_ROUTING_RATE_LIMITS", default: "callback=30/10m;sms=1/s;braze-export=150/m").map { group, spec in
        do { return (group, try RateLimit(parsing: spec)) } catch { throw SettingsError("SB_ROUTING_RATE_LIMITS: \(group): \(error)") }
    }
    return CRMSettings(common: try CommonSettings(env, defaultPort: 9105), keyRing: keyRing,
                       pollMs: try env.int("SB_DIALER_POLL_MS", default: 5000, range: 200...600_000),
                       probeMs: try env.int("SB_DIALER_PROBE_MS", default: 100, range: 20...600_000),
                       brazeCutoffMs: try env.int("SB_BRAZE_CUTOFF_MS", default: 1500, range: 50...15_000),
                       alertMs: try env.int("SB_ALERT_CHECK_MS", default: 15_000, range: 200...600_000),
                       concurrency: try env.int("SB_CONCURRENCY", default: 4, range: 1...1000), rateLimits: limits)
}
let common = settings.common
let registry = Telemetry.bootstrap(logLevel: common.logLevel)
let logger = Logger(label: "switchboard.crm-worker")
let redis = RedisClient(common.redis)
let postgres = PostgresClient(common.postgres)
let http = HTTPClient(maxConnections: 8)
let vault = CredentialVault(keyRing: settings.keyRing, postgres: postgres)
let store = RoutingStore(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: common.keyPrefix))

var services: [any Service] = []
let cache: LeadCache
do {
    let queue = try JobQueue(name: VoiceCalls.queueName, prefix: common.keyPrefix, redis: redis)
    for (group, limit) in settings.rateLimits { try await queue.setRateLimit(group: group, limit) }
    cache = LeadCache(store: store, vault: vault, http: http, queue: queue, liveCutoffMs: settings.brazeCutoffMs)
    let jobs = JobRegistry(RoutingJobs(store: store, vault: vault, http: http).definitions + cache.definitions)
    services.append(QueueWorker(queue: queue, registry: jobs, configuration: QueueWorkerConfiguration(concurrency: settings.concurrency), logger: logger))
} catch {
    logger.critical("cannot start", metadata: ["error": "\(error)"])
    exit(1)
}
let consumer = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
services.append(DialerPoller(store: store, vault: vault, http: http, intervalMs: settings.pollMs, probeMs: settings.probeMs))
services.append(OutcomeWriter(cache: cache, consumer: consumer))
services.append(MissFiller(cache: cache))
services.append(IntegrationAlerter(store: store, intervalMs: settings.alertMs))
services.append(OpsServer.make(host: common.httpHost, port: common.httpPort, registry: registry, logger: logger,
                               health: { do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" } },
                               onBound: { port in logger.info("crm-worker ready", metadata: ["port": "\(port)"]) },
                               routes: { BrazeWebhook(cache: cache).routes(into: $0) }))
let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
await redis.shutdown()
await postgres.shutdown()
await http.shutdown()
