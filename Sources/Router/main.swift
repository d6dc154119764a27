import Foundation
import Hummingbird
import Logging
import Observability
import Redis
import Routing
import ServiceLifecycle
import Settings

/// The `router` process: millisecond routing decisions from Redis. Wiring only; the hot path is
/// RouteService, the HTTP surface RouterAPI.
let env = Settings.Environment()
let (common, defaultCountry, staleMs) = settingsOrExit("router") { () throws -> (CommonSettings, String, Int) in
    (try CommonSettings(env, defaultPort: 9104), env.string("SB_DEFAULT_COUNTRY_CODE", default: "1"),
     try env.int("SB_CAPACITY_STALE_MS", default: 30_000, range: 100...3_600_000))
}

let registry = Telemetry.bootstrap(logLevel: common.logLevel)
let logger = Logger(label: "switchboard.router")
let redis = RedisClient(common.redis)
let service = RouteService(redis: redis, keys: RoutingKeys(prefix: common.keyPrefix), staleCapacityMs: staleMs)

let router = Router()
OpsServer.addRoutes(to: router, registry: registry) {
    do { _ = try await redis.send(["PING"]); return nil } catch { return "redis: \(error)" }
}
RouterAPI(service: service, defaultCountryCode: defaultCountry).routes(into: router)
let app = Application(router: router, configuration: .init(address: .hostname(common.httpHost, port: common.httpPort), serverName: nil),
                      onServerRunning: { channel in logger.info("router ready", metadata: ["port": "\(channel.localAddress?.port ?? 0)"]) },
                      logger: logger)
let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
await redis.shutdown()
