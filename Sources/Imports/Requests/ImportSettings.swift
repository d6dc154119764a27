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
    }
}

extension ImportSettings {
    /// The connectors' settings from these base URLs.
    public func connectors(http: HTTPClient) -> ConnectorSettings {
        ConnectorSettings(gongBaseURL: gongBaseURL, fathomBaseURL: fathomBaseURL, grainBaseURL: grainBaseURL, http: http)
    }
}
