import Foundation
import Imports
import Logging
import Observability
import Settings

/// The `worker` process: works the queues named in SB_QUEUES with every registered job type.
/// Reads its settings here; `Worker+build.swift` wires the modules together.
@main struct WorkerApp {
    static func main() async throws {
        let env = EnvironmentVariables()
        let settings = settingsOrExit("worker") { try WorkerAppSettings(env) }
        let registry = Telemetry.bootstrap(logLevel: settings.common.logLevel)
        let app: ProcessApp
        do { app = try await buildWorker(settings, registry: registry) } catch {
            Logger(label: "switchboard.worker").critical("cannot start", metadata: ["error": "\(error)"])
            exit(1)
        }
        try await app.run()
    }
}

/// Everything the worker reads from the environment.
struct WorkerAppSettings: Sendable {
    let common: CommonSettings
    let worker: WorkerSettings
    /// Set when this worker runs the import queue (or SB_MASTER_KEYS is set for it).
    let imports: ImportSettings?

    init(_ env: EnvironmentVariables) throws {
        worker = try WorkerSettings(env)
        let runsImports = worker.queues.contains(env.string("SB_IMPORT_QUEUE", default: "imports"))
        common = try CommonSettings(env, defaultPort: 9101)
        imports = runsImports || env.optional("SB_MASTER_KEYS") != nil ? try ImportSettings(env) : nil
    }
}
