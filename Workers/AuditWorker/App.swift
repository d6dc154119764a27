import Observability
import Settings

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

    init(_ env: EnvironmentVariables) throws {
        common = try CommonSettings(env, defaultPort: 9106)
        batch = try env.int("SB_AUDIT_BATCH", default: 1000, range: 1...50_000)
    }
}
