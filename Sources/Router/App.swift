import NIOCore
import NIOPosix
import Observability
import Settings
import Vault

/// The `router` process: millisecond routing decisions from Redis. Reads its settings here;
/// `Router+build.swift` wires the modules together. The hot path is RouteService behind
/// RouteWire (on the event loops); everything else Hummingbird routes.
@main struct RouterApp {
    static func main() async throws {
        let settings = settingsOrExit("router") { try RouterSettings(EnvironmentVariables()) }
        let registry = Telemetry.bootstrap(logLevel: settings.common.logLevel)
        try await buildRouter(settings, registry: registry).run()
    }
}

/// Everything the router reads from the environment.
struct RouterSettings: Sendable {
    let common: CommonSettings
    /// SB_DEFAULT_COUNTRY_CODE (1): the country of numbers written without one.
    let defaultCountry: String
    /// SB_CAPACITY_STALE_MS (30000): capacity older than this is unknown (scenario 3).
    let staleMs: Int
    /// SB_ROUTER_THREADS (cores): event loops.
    let loopCount: Int
    /// SB_ROUTER_PUBLIC_URL: the URL the voice platform calls (signatures are over it).
    let publicURL: String
    /// SB_MASTER_KEYS / SB_MASTER_KEY_ID: opens voice tokens and Braze access.
    let keyRing: MasterKeyRing?
    /// SB_BRAZE_CUTOFF_MS (1500), SB_BRAZE_LIVE_PER_MINUTE (100): live lookups on a miss.
    let brazeCutoffMs: Int
    let brazeLivePerMinute: Int
    /// SB_ROUTER_STATE_MS (100): how long a tenant's rules version, health and capacity are reused.
    let stateMaxAgeMs: Int
    /// SB_ROUTER_TENANT_RPS (10000, 0 = off): decisions per second one tenant may ask of this
    /// router before it gets 429 (so one tenant's flood never starves the others).
    let tenantRatePerSecond: Int
    /// SB_ROUTER_IDLE_TIMEOUT_MS (30000): a connection with no bytes for this long is closed;
    /// SB_ROUTER_HEAD_TIMEOUT_MS (5000): a request still incomplete after this long is refused.
    let idleTimeoutMs: Int
    let headTimeoutMs: Int

    init(_ env: EnvironmentVariables) throws {
        common = try CommonSettings(env, defaultPort: 9104)
        keyRing = try env.optional("SB_MASTER_KEYS").map { keys in
            try MasterKeyRing(keys: keys, activeIdSetting: env.optional("SB_MASTER_KEY_ID"))
        }
        defaultCountry = env.string("SB_DEFAULT_COUNTRY_CODE", default: "1")
        staleMs = try env.int("SB_CAPACITY_STALE_MS", default: 30_000, range: 100...3_600_000)
        loopCount = try env.int("SB_ROUTER_THREADS", default: System.coreCount, range: 1...256)
        publicURL = env.string("SB_ROUTER_PUBLIC_URL", default: "http://127.0.0.1:\(common.httpPort)")
        brazeCutoffMs = try env.int("SB_BRAZE_CUTOFF_MS", default: 1500, range: 50...15_000)
        brazeLivePerMinute = try env.int("SB_BRAZE_LIVE_PER_MINUTE", default: 100, range: 0...100_000)
        stateMaxAgeMs = try env.int("SB_ROUTER_STATE_MS", default: 100, range: 0...10_000)
        tenantRatePerSecond = try env.int("SB_ROUTER_TENANT_RPS", default: 10_000, range: 0...10_000_000)
        idleTimeoutMs = try env.int("SB_ROUTER_IDLE_TIMEOUT_MS", default: 30_000, range: 100...3_600_000)
        headTimeoutMs = try env.int("SB_ROUTER_HEAD_TIMEOUT_MS", default: 5000, range: 100...600_000)
    }
}
