import Curl
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import Observability
import Queue
import Redis
import Routing
import RoutingCore
import ServiceLifecycle

/// Builds the router: its event loops and Redis clients, the route service (with live Braze
/// lookups when a master key is set), the JSON API on the wire fast path, the TwiML webhooks,
/// outcomes, health and metrics. `onBound` learns the HTTP port.
func buildRouter(_ settings: RouterSettings, registry: MetricsRegistry,
                 onBound: @escaping @Sendable (Int) -> Void = { _ in }) throws -> ProcessApp {
    let common = settings.common
    let logger = Logger(label: "switchboard.router")
    let loops = MultiThreadedEventLoopGroup(numberOfThreads: settings.loopCount)
    let fastRedis = EventLoopRedisClient(common.redis, group: loops)
    let redis = RedisClient(common.redis)
    let keys = RoutingKeys(prefix: common.keyPrefix)
    let http = HTTPClient(maxConnections: 16, policy: common.outbound)
    let live = settings.keyRing.flatMap { ring in
        settings.brazeLivePerMinute > 0 ? LiveLookup(http: http, keyRing: ring, redis: fastRedis, keys: keys, cutoffMs: settings.brazeCutoffMs,
                                                     perMinute: settings.brazeLivePerMinute) : nil
    }
    if settings.keyRing == nil {
        logger.warning("SB_MASTER_KEYS is not set: the router reads no cached lead (every call is a miss) and writes audit chains unsealed")
    }
    let service = RouteService(redis: fastRedis, keys: keys, keyRing: settings.keyRing, staleCapacityMs: settings.staleMs, stateMaxAgeMs: settings.stateMaxAgeMs, live: live)
    let routeAPI = RouteAPI(service: service, defaultCountryCode: settings.defaultCountry, loops: loops,
                            admission: TenantAdmission(ratePerSecond: settings.tenantRatePerSecond))
    let voice = VoiceCalls(redis: fastRedis, jobs: try JobQueue(name: RoutingQueue.name, prefix: common.keyPrefix, redis: redis), keys: keys,
                           keyRing: settings.keyRing, leadKeys: service.leadKeys)

    let router = Router()
    OpsServer.addRoutes(to: router, registry: registry) {
        do { _ = try await fastRedis.pipeline([["PING"]]); return nil } catch { return "redis: \(error)" }
    }
    VoiceWebhooks(service: service, voice: voice, publicURL: settings.publicURL, defaultCountryCode: settings.defaultCountry).routes(into: router)
    OutcomeRoute(service: service, defaultCountryCode: settings.defaultCountry).routes(into: router)
    routeAPI.routes(into: router)
    let app = Application(router: router,
                          server: RouterChannel.builder(api: routeAPI, idleTimeoutMs: settings.idleTimeoutMs, headTimeoutMs: settings.headTimeoutMs,
                                                        tls: try common.tls?.makeContext()),
                          configuration: .init(address: .hostname(common.httpHost, port: common.httpPort), serverName: nil),
                          onServerRunning: { channel in
                              let port = channel.localAddress?.port ?? 0
                              logger.info("router ready", metadata: ["port": "\(port)"])
                              onBound(port)
                          },
                          eventLoopGroupProvider: .shared(loops), logger: logger)
    return ProcessApp(services: [app], logger: logger, onStop: {
        await fastRedis.shutdown()
        await redis.shutdown()
        await http.shutdown()
        try? await loops.shutdownGracefully()
    })
}
