import Observability
import Settings
import Vault

/// The `audit-worker` process: copies the routing audit stream into Postgres in batches,
/// acknowledging only after commit. Reads its settings here; `AuditWorker+build.swift` wires
/// the modules together; the work is `AuditLog.drain` run by `AuditDrain`.
@main struct AuditWorkerApp {
    static func main() async throws {
        let settings = settingsOrExit("audit-worker") { try AuditWorkerSettings(EnvironmentVariables()) }
        let registry = Telemetry.bootstrap(logLevel: settings.common.logLevel)
        try await buildAuditWorker(settings, registry: registry).run()
    }
}

/// Everything the audit-worker reads from the environment.
struct AuditWorkerSettings: Sendable {
    let common: CommonSettings
    /// SB_AUDIT_BATCH (1000): stream entries stored per transaction.
    let batch: Int
    /// SB_AUDIT_DRAINS (2): drain loops in this process, each its own stream consumer, so one
    /// prepares (parses, seals) a batch while another's is being written.
    let drains: Int
    /// SB_AUDIT_WRITERS (2): transactions each drain writes a batch with at once (its tenants
    /// split into disjoint groups, so they never wait on each other's chain locks).
    let writers: Int
    /// SB_MASTER_KEYS / SB_MASTER_KEY_ID: the tenants' data keys seal the personal data of each row.
    let keyRing: MasterKeyRing
    /// SB_SLACK_WEBHOOK_URL: where a broken audit chain is announced (unset: log and metric only).
    let slackWebhookURL: String?

    init(_ env: EnvironmentVariables) throws {
        guard let keys = env.optional("SB_MASTER_KEYS") else { throw SettingsError("SB_MASTER_KEYS is not set: audit rows cannot be sealed") }
        keyRing = try MasterKeyRing(keys: keys, activeIdSetting: env.optional("SB_MASTER_KEY_ID"))
        common = try CommonSettings(env, defaultPort: 9106)
        slackWebhookURL = env.optional("SB_SLACK_WEBHOOK_URL")
        batch = try env.int("SB_AUDIT_BATCH", default: 1000, range: 1...50_000)
        drains = try env.int("SB_AUDIT_DRAINS", default: 2, range: 1...16)
        writers = try env.int("SB_AUDIT_WRITERS", default: 2, range: 1...16)
    }
}
