import Foundation
import HTTPClient
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import Observability
import Queue
import Redis
import Routing
import ServiceLifecycle
import Settings
import Vault

/// The `router` process: millisecond routing decisions from Redis. Wiring only; the hot path is
/// RouteService behind RouteWire (on the event loops), everything else Hummingbird routes.
let env = Settings.Environment()
struct RouterSettings {
    let common: CommonSettings
    let defaultCountry: String
    let staleMs: Int
    let loopCount: Int
    let publicURL: String
    let keyRing: MasterKeyRing?
    let brazeCutoffMs: Int
    let brazeLivePerMinute: Int
    let stateMaxAgeMs: Int
}
let settings = settingsOrExit("router") { () throws -> RouterSettings in
    let common = try CommonSettings(env, defaultPort: 9104)
    let keyRing = try env.optional("SB_MASTER_KEYS").map { keys in
        try MasterKeyRing(keys: keys, activeIdSetting: env.optional("SB_MASTER_KEY_ID"))
    }
    return RouterSettings(common: common, defaultCountry: env.string("SB_DEFAULT_COUNTRY_CODE", default: "1"),
                          staleMs: try env.int("SB_CAPACITY_STALE_MS", default: 30_000, range: 100...3_600_000),
                          loopCount: try env.int("SB_ROUTER_THREADS", default: System.coreCount, range: 1...256),
                          publicURL: env.string("SB_ROUTER_PUBLIC_URL", default: "http://127.0.0.1:\(common.httpPort)"), keyRing: keyRing,
                          brazeCutoffMs: try env.int("SB_BRAZE_CUTOFF_MS", default: 1500, range: 50...15_000),
                          brazeLivePerMinute: try env.int("SB_BRAZE_LIVE_PER_MINUTE", default: 100, range: 0...100_000),
                          stateMaxAgeMs: try env.int("SB_ROUTER_STATE_MS", default: 100, range: 0...10_000))
}
let common = settings.common

let registry = Telemetry.bootstrap(logLevel: common.logLevel)
let logger = Logger(label: "switchboard.router")
let loops = MultiThreadedEventLoopGroup(numberOfThreads: settings.loopCount)
let fastRedis = EventLoopRedisClient(common.redis, group: loops)
let redis = RedisClient(common.redis)
let keys = RoutingKeys(prefix: common.keyPrefix)
let http = HTTPClient(maxConnections: 16)
let live = settings.keyRing.flatMap { ring in
    settings.brazeLivePerMinute > 0 ? LiveLookup(http: http, keyRing: ring, redis: fastRedis, keys: keys, cutoffMs: settings.brazeCutoffMs,
                                                 perMinute: settings.brazeLivePerMinute) : nil
}
let service = RouteService(redis: fastRedis, keys: keys, staleCapacityMs: settings.staleMs, stateMaxAgeMs: settings.stateMaxAgeMs, live: live)
let routeAPI = RouteAPI(service: service, defaultCountryCode: settings.defaultCountry, loops: loops)
let voice = VoiceCalls(redis: fastRedis, jobs: try JobQueue(name: VoiceCalls.queueName, prefix: common.keyPrefix, redis: redis), keys: keys,
                       keyRing: settings.keyRing)

let router = Router()
OpsServer.addRoutes(to: router, registry: registry) {
    do { _ = try await fastRedis.pipeline([["PING"]]); return nil } catch { return "redis: \(error)" }
}
VoiceWebhooks(service: service, voice: voice, publicURL: settings.publicURL, defaultCountryCode: settings.defaultCountry).routes(into: router)
OutcomeRoute(service: service, defaultCountryCode: settings.defaultCountry).routes(into: router)
routeAPI.routes(into: router)
let app = Application(router: router,
                      server: RouterChannel.builder(api: routeAPI),
                      configuration: .init(address: .hostname(common.httpHost, port: common.httpPort), serverName: nil),
                      onServerRunning: { channel in logger.info("router ready", metadata: ["port": "\(channel.localAddress?.port ?? 0)"]) },
                      eventLoopGroupProvider: .shared(loops), logger: logger)
let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
await fastRedis.shutdown()
await redis.shutdown()
await http.shutdown()
