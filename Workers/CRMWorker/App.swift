import Foundation
import Logging
import Observability
import Queue
import Settings
import Vault

/// The `crm-worker` process: keeps routing's view of the outside world fresh and carries out
/// what the router queued — the Braze lead cache (nightly export, change webhooks, misses),
/// outcome write-back to Braze, dialer capacity and health (the poller, feeding the shared
/// circuit breakers), SMS alerts and callback requests (the `routing` job queue), and the email
/// alerts on failure rates and recoveries. Reads its settings here; `CRMWorker+build.swift`
/// wires the modules together.
@main struct CRMWorkerApp {
    static func main() async throws {
        let settings = settingsOrExit("crm-worker") { try CRMSettings(EnvironmentVariables()) }
        let registry = Telemetry.bootstrap(logLevel: settings.common.logLevel)
        let app: ProcessApp
        do { app = try await buildCRMWorker(settings, registry: registry) } catch {
            Logger(label: "switchboard.crm-worker").critical("cannot start", metadata: ["error": "\(error)"])
            exit(1)
        }
        try await app.run()
    }
}

/// Everything the crm-worker reads from the environment.
struct CRMSettings: Sendable {
    let common: CommonSettings
    /// SB_MASTER_KEYS / SB_MASTER_KEY_ID: opens integration credentials.
    let keyRing: MasterKeyRing
    /// SB_DIALER_POLL_MS (5000), SB_DIALER_PROBE_MS (100, for dialers that are down).
    let pollMs: Int
    let probeMs: Int
    /// SB_BRAZE_CUTOFF_MS (1500): a cache-fill lookup slower than this counts against Braze.
    let brazeCutoffMs: Int
    /// SB_ALERT_CHECK_MS (15000): how often failure rates and recoveries are checked.
    let alertMs: Int
    /// SB_CONCURRENCY (4): handlers of the `routing` queue.
    let concurrency: Int
    /// SB_ROUTING_RATE_LIMITS ("callback=30/10m;sms=1/s;braze-export=150/m").
    let rateLimits: [(String, RateLimit)]

    init(_ env: EnvironmentVariables) throws {
        guard let keys = env.optional("SB_MASTER_KEYS") else { throw SettingsError("SB_MASTER_KEYS is not set: integration credentials cannot be opened") }
        keyRing = try MasterKeyRing(keys: keys, activeIdSetting: env.optional("SB_MASTER_KEY_ID"))
        rateLimits = try env.pairs("SB_ROUTING_RATE_LIMITS", default: "callback=30/10m;sms=1/s;braze-export=150/m").map { group, spec in
            do { return (group, try RateLimit(parsing: spec)) } catch { throw SettingsError("SB_ROUTING_RATE_LIMITS: \(group): \(error)") }
        }
        common = try CommonSettings(env, defaultPort: 9105)
        pollMs = try env.int("SB_DIALER_POLL_MS", default: 5000, range: 200...600_000)
        probeMs = try env.int("SB_DIALER_PROBE_MS", default: 100, range: 20...600_000)
        brazeCutoffMs = try env.int("SB_BRAZE_CUTOFF_MS", default: 1500, range: 50...15_000)
        alertMs = try env.int("SB_ALERT_CHECK_MS", default: 15_000, range: 200...600_000)
        concurrency = try env.int("SB_CONCURRENCY", default: 4, range: 1...1000)
    }
}
