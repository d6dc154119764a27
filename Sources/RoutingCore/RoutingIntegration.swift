import Basics
import Foundation

/// One external system a tenant's routing depends on: a dialer (Zendesk Talk, Dialfire), the
/// SMS API for alerts, or Braze. Credentials are opened only in the process that calls it.
public struct RoutingIntegration: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case zendeskTalk = "zendesk_talk", dialfire, braze, sms, email }

    public let tenant: String
    /// The dialer id used in the rules, or "braze" / "sms" / "email".
    public let id: String
    public let kind: Kind
    public let baseURL: String
    /// Kind-specific settings: Zendesk `email`, `phoneNumberId`; Dialfire `tenant`, `line`,
    /// `campaign`; SMS `from`, `to` (on-call number), `accountSid`; Braze `segmentId` (the
    /// nightly export) and `fields` (extra attributes to cache, comma-separated); email `from`,
    /// `to` (comma-separated), with an `smtp://host:port` base URL.
    public let settings: [String: String]

    public init(tenant: String, id: String, kind: Kind, baseURL: String, settings: [String: String] = [:]) {
        self.tenant = tenant
        self.id = id
        self.kind = kind
        self.baseURL = baseURL
        self.settings = settings
    }

    /// Rejects what could not work, saying what to fix.
    public func validate() throws {
        try TenantID.check(tenant)
        guard id.range(of: #"^[A-Za-z0-9_.-]{1,63}$"#, options: .regularExpression) != nil else {
            throw RoutingError(.invalidInput, "integration id '\(id)' must be 1-63 letters, digits, '.', '_' or '-'")
        }
        let schemes = kind == .email ? ["smtp", "smtps"] : ["http", "https"]
        guard let url = URL(string: baseURL), let scheme = url.scheme, schemes.contains(scheme), url.host != nil else {
            throw RoutingError(.invalidInput, "base URL '\(baseURL)' must be a \(schemes.joined(separator: " or ")) URL")
        }
        let required: [Kind: [String]] = [.zendeskTalk: ["email"], .dialfire: ["tenant", "line"], .sms: ["from", "to", "accountSid"], .braze: ["segmentId"], .email: ["from", "to"]]
        for key in required[kind] ?? [] where (settings[key] ?? "").isEmpty {
            throw RoutingError(.invalidInput, "\(kind.rawValue) integration needs the setting '\(key)'")
        }
    }
}
