import Access
import Curl
import Hummingbird
import Imports
import Logging
import Observability
import Postgres
import Queue
import Redis
import Routing
import RoutingCore
import ServerTLS
import Vault

/// Builds the console: the import and routing admin APIs, health and metrics, on one
/// Hummingbird server. `onBound` learns the HTTP port.
func buildConsole(_ settings: ConsoleSettings, registry: MetricsRegistry,
                  onBound: @escaping @Sendable (Int) -> Void = { _ in }) throws -> ProcessApp {
    let common = settings.common
    let imports = settings.imports
    let logger = Logger(label: "switchboard.console")
    let redis = RedisClient(common.redis)
    let postgres = PostgresClient(common.postgres)
    let http = HTTPClient(maxConnections: 2, policy: common.outbound)
    let pipeline = ImportPipeline(store: ImportStore(postgres: postgres, vault: CredentialVault(keyRing: imports.keyRing, postgres: postgres)),
                                  queue: try JobQueue(name: imports.queue, prefix: common.keyPrefix, redis: redis),
                                  connectors: imports.connectors(http: http),
                                  catalog: try PlatformCatalog.bundled(), nightWindow: imports.nightWindow, timing: imports.timing, logger: logger)
    let router = Router()
    if common.tls != nil { router.add(middleware: StrictTransportSecurity()) }
    OpsServer.addRoutes(to: router, registry: registry) {
        do {
            _ = try await redis.send(["PING"])
            try await postgres.query("SELECT 1")
            return nil
        } catch { return "\(error)" }
    }
    let gate = ConsoleGuard(users: UserStore(postgres: postgres, hasher: PasswordHasher(cost: UInt8(settings.bcryptCost))),
                            tokens: APITokens(postgres: postgres),
                            sessions: SessionStore(redis: redis, prefix: common.keyPrefix, idleSeconds: settings.sessionIdleSeconds,
                                                   longestSeconds: settings.sessionLongestSeconds),
                            actions: UserActionLog(postgres: postgres),
                            tenantOfImport: { id in try await pipeline.store.request(id).tenant })
    ConsoleAPI(pipeline: pipeline, gate: gate).routes(into: router)
    ConsoleAccessAPI(gate: gate, secureCookies: !settings.insecureCookies).routes(into: router)
    let keys = RoutingKeys(prefix: common.keyPrefix)
    let stores = RoutingStores(redis: redis, postgres: postgres, keys: keys)
    let vault = CredentialVault(keyRing: imports.keyRing, postgres: postgres)
    ConsoleRoutingAPI(rules: stores.rules, access: stores.access, audit: AuditLog(redis: redis, postgres: postgres, keys: keys, vault: vault),
                      gate: gate).routes(into: router)
    ConsoleCredentialsAPI(credentials: stores.credentials, vault: vault, gate: gate).routes(into: router)
    let app = Application(router: router, server: try ServerTLS.builder(common.tls),
                          configuration: .init(address: .hostname(common.httpHost, port: common.httpPort), serverName: nil),
                          onServerRunning: { channel in
                              let port = channel.localAddress?.port ?? 0
                              logger.info("console ready", metadata: ["port": "\(port)"])
                              onBound(port)
                          },
                          logger: logger)
    return ProcessApp(services: [app], logger: logger, onStop: {
        await redis.shutdown()
        await postgres.shutdown()
        await http.shutdown()
    })
}
