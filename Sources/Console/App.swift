import Imports
import Observability
import Settings

/// The `console` process: the admin HTTP API for customer success (SB_CONSOLE_TOKEN bearer
/// auth). Reads its settings here; `Console+build.swift` wires the modules together; the
/// routes are in ConsoleAPI and ConsoleRoutingAPI.
@main struct ConsoleApp {
    static func main() async throws {
        let settings = settingsOrExit("console") { try ConsoleSettings(EnvironmentVariables()) }
        let registry = Telemetry.bootstrap(logLevel: settings.common.logLevel)
        try await buildConsole(settings, registry: registry).run()
    }
}

/// Everything the console reads from the environment.
struct ConsoleSettings: Sendable {
    let common: CommonSettings
    let imports: ImportSettings
    /// SB_CONSOLE_TOKEN: the bearer secret (at least 16 characters).
    let token: String

    init(_ env: EnvironmentVariables) throws {
        guard let token = env.optional("SB_CONSOLE_TOKEN"), token.count >= 16 else {
            throw SettingsError("SB_CONSOLE_TOKEN must be set to a secret of at least 16 characters")
        }
        self.token = token
        common = try CommonSettings(env, defaultPort: 9103)
        imports = try ImportSettings(env)
    }
}
