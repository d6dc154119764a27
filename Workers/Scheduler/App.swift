import Foundation
import Observability
import Queue
import Settings

/// The `scheduler` process: fires the cron schedules of SB_SCHEDULES_FILE (ops/schedules.json).
/// Run as many as you like; each slot fires once across all of them. Reads its settings here;
/// `Scheduler+build.swift` wires the modules together.
@main struct SchedulerApp {
    static func main() async throws {
        let settings = settingsOrExit("scheduler") { try SchedulerSettings(EnvironmentVariables()) }
        let registry = Telemetry.bootstrap(logLevel: settings.common.logLevel)
        try await buildScheduler(settings, registry: registry).run()
    }
}

/// Everything the scheduler reads from the environment.
struct SchedulerSettings: Sendable {
    let common: CommonSettings
    /// SB_SCHEDULES_FILE (ops/schedules.json), parsed.
    let schedules: [CronSchedule]
    /// SB_SCHEDULER_TICK_MS (250): how often due slots are looked for.
    let tickMs: Int

    init(_ env: EnvironmentVariables) throws {
        let path = env.string("SB_SCHEDULES_FILE", default: "ops/schedules.json")
        guard let data = FileManager.default.contents(atPath: path) else { throw SettingsError("SB_SCHEDULES_FILE: cannot read \(path)") }
        common = try CommonSettings(env, defaultPort: 9102)
        schedules = try CronSchedule.parseList(json: Array(data))
        tickMs = try env.int("SB_SCHEDULER_TICK_MS", default: 250, range: 10...60_000)
    }
}
