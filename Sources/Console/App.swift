import Imports
import Observability
import Settings

/// The `console` process: the admin HTTP API for customer success and tenant admins, behind
/// per-user sign-in sessions and API tokens. Reads its settings here; `Console+build.swift`
/// wires the modules together; the routes are in ConsoleAPI, ConsoleRoutingAPI and
/// ConsoleAccessAPI, all behind ConsoleGuard.
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
    /// SB_BCRYPT_COST (12): bcrypt's cost for new passwords.
    let bcryptCost: Int
    /// SB_SESSION_IDLE_MINUTES (30): a session ends after this long unused.
    let sessionIdleSeconds: Int
    /// SB_SESSION_MAX_HOURS (12): a session ends this long after sign-in, used or not.
    let sessionLongestSeconds: Int
    /// SB_CONSOLE_INSECURE_COOKIES (0): 1 drops `Secure` from the session cookie, for a
    /// plain-HTTP setup reached by a name browsers do not treat as secure.
    let insecureCookies: Bool

    init(_ env: EnvironmentVariables) throws {
        common = try CommonSettings(env, defaultPort: 9103)
        imports = try ImportSettings(env)
        bcryptCost = try env.int("SB_BCRYPT_COST", default: 12, range: 4...16)
        sessionIdleSeconds = try env.int("SB_SESSION_IDLE_MINUTES", default: 30, range: 1...1440) * 60
        sessionLongestSeconds = try env.int("SB_SESSION_MAX_HOURS", default: 12, range: 1...168) * 3600
        insecureCookies = try env.int("SB_CONSOLE_INSECURE_COOKIES", default: 0, range: 0...1) == 1
    }
}
