import Foundation
import HTTPClient
import Hummingbird
import Imports
import Logging
import Observability
import Postgres
import Queue
import Redis
import Routing
import ServiceLifecycle
import Settings
import Vault

/// The `console` process: the admin HTTP API for customer success (SB_CONSOLE_TOKEN bearer auth).
/// Wiring only; the routes are in ConsoleAPI.
let env = Settings.Environment()
let (common, imports, token) = settingsOrExit("console") { () throws -> (CommonSettings, ImportSettings, String) in
    guard let token = env.optional("SB_CONSOLE_TOKEN"), token.count >= 16 else {
        throw SettingsError("SB_CONSOLE_TOKEN must be set to a secret of at least 16 characters")
    }
    return (try CommonSettings(env, defaultPort: 9103), try ImportSettings(env), token)
}

let registry = Telemetry.bootstrap(logLevel: common.logLevel)
let logger = Logger(label: "switchboard.console")
let redis = RedisClient(common.redis)
let postgres = PostgresClient(common.postgres)
let http = HTTPClient(maxConnections: 2)
let pipeline = ImportPipeline(store: ImportStore(postgres: postgres, vault: CredentialVault(keyRing: imports.keyRing, postgres: postgres)),
                              queue: try JobQueue(name: imports.queue, prefix: common.keyPrefix, redis: redis),
                              connectors: imports.connectors(http: http),
                              catalog: try PlatformCatalog.bundled(), nightWindow: imports.nightWindow, logger: logger)

let router = Router()
OpsServer.addRoutes(to: router, registry: registry) {
    do {
        _ = try await redis.send(["PING"])
        try await postgres.query("SELECT 1")
        return nil
    } catch { return "\(error)" }
}
ConsoleAPI(pipeline: pipeline, token: token).routes(into: router)
let keys = RoutingKeys(prefix: common.keyPrefix)
ConsoleRoutingAPI(store: RoutingStore(redis: redis, postgres: postgres, keys: keys), audit: AuditLog(redis: redis, postgres: postgres, keys: keys),
                  token: token).routes(into: router)
let app = Application(router: router, configuration: .init(address: .hostname(common.httpHost, port: common.httpPort), serverName: nil),
                      onServerRunning: { channel in logger.info("console ready", metadata: ["port": "\(channel.localAddress?.port ?? 0)"]) },
                      logger: logger)
let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
await redis.shutdown()
await postgres.shutdown()
await http.shutdown()
