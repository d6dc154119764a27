import Foundation
import Curl
import Settings
import Vault

/// What the import engine reads from the environment.
public struct ImportSettings: Sendable {
    /// SB_MASTER_KEYS / SB_MASTER_KEY_ID: master keys for credential encryption (required).
    public let keyRing: MasterKeyRing
    /// SB_GONG_BASE_URL (https://api.gong.io), SB_FATHOM_BASE_URL (https://api.fathom.ai/external/v1),
    /// SB_GRAIN_BASE_URL (https://api.grain.com/_/public-api).
    public let gongBaseURL: String
    public let fathomBaseURL: String
    public let grainBaseURL: String
    /// SB_NIGHT_WINDOW (22:00-06:00) in SB_NIGHT_WINDOW_TZ (UTC): when standard imports run.
    public let nightWindow: NightWindow
    /// SB_IMPORT_QUEUE (imports).
    public let queue: String
    /// SB_SLACK_WEBHOOK_URL (unset: events are kept, not posted): where CS hears about imports.
    public let slackWebhookURL: String?
    /// SB_IMPORT_STALL_MINUTES (30), SB_IMPORT_OUTAGE_SLOW_AFTER_MINUTES (10), SB_IMPORT_OUTAGE_RETRY_MS
    /// (900000), SB_IMPORT_GIVE_UP_DAYS (7): when a request counts as stalled, how an outage is retried.
    public let timing: ImportTiming

    public init(_ env: EnvironmentVariables) throws {
        guard let keys = env.optional("SB_MASTER_KEYS") else {
            throw SettingsError("SB_MASTER_KEYS is not set: credentials cannot be encrypted (ops/setup-and-run generates one into .run/secrets.env)")
        }
        do {
            keyRing = try MasterKeyRing(keys: keys, activeIdSetting: env.optional("SB_MASTER_KEY_ID"))
        } catch { throw SettingsError("\(error)") }
        gongBaseURL = env.string("SB_GONG_BASE_URL", default: "https://api.gong.io")
        fathomBaseURL = env.string("SB_FATHOM_BASE_URL", default: "https://api.fathom.ai/external/v1")
        grainBaseURL = env.string("SB_GRAIN_BASE_URL", default: "https://api.grain.com/_/public-api")
        let zoneName = env.string("SB_NIGHT_WINDOW_TZ", default: "UTC")
        guard let zone = TimeZone(identifier: zoneName) else { throw SettingsError("SB_NIGHT_WINDOW_TZ=\(zoneName) is not a time zone") }
        do { nightWindow = try NightWindow(parsing: env.string("SB_NIGHT_WINDOW", default: "22:00-06:00"), timeZone: zone) } catch {
            throw SettingsError("SB_NIGHT_WINDOW: \(error)")
        }
        queue = env.string("SB_IMPORT_QUEUE", default: "imports")
        slackWebhookURL = env.optional("SB_SLACK_WEBHOOK_URL")
        timing = ImportTiming(stallAfterMs: try env.int("SB_IMPORT_STALL_MINUTES", default: 30, range: 1...10_080) * 60_000,
                              outageSlowAfterMs: try env.int("SB_IMPORT_OUTAGE_SLOW_AFTER_MINUTES", default: 10, range: 0...1440) * 60_000,
                              outageRetryMs: try env.int("SB_IMPORT_OUTAGE_RETRY_MS", default: 15 * 60_000, range: 100...86_400_000),
                              giveUpDays: try env.int("SB_IMPORT_GIVE_UP_DAYS", default: 7, range: 1...90))
    }
}

/// How long the import engine waits before it calls a request stalled, and how it rides out a
/// platform outage: normal backoff first, then one try every `outageRetryMs` (the account's key
/// paused fleet-wide in between, no attempts spent) until the request's completion date, or
/// `giveUpDays` after it was created when it has none.
public struct ImportTiming: Sendable, Equatable {
    /// A running request that stored nothing for this long (its platform answering) is stalled.
    public var stallAfterMs: Int
    /// After the platform has failed for this long, retries slow down to `outageRetryMs`.
    public var outageSlowAfterMs: Int
    public var outageRetryMs: Int
    public var giveUpDays: Int

    public init(stallAfterMs: Int = 30 * 60_000, outageSlowAfterMs: Int = 10 * 60_000, outageRetryMs: Int = 15 * 60_000, giveUpDays: Int = 7) {
        self.stallAfterMs = stallAfterMs
        self.outageSlowAfterMs = outageSlowAfterMs
        self.outageRetryMs = outageRetryMs
        self.giveUpDays = giveUpDays
    }
}

extension ImportSettings {
    /// The connectors' settings from these base URLs.
    public func connectors(http: HTTPClient) -> ConnectorSettings {
        ConnectorSettings(gongBaseURL: gongBaseURL, fathomBaseURL: fathomBaseURL, grainBaseURL: grainBaseURL, http: http)
    }
}
