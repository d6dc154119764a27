/// Everything a console route or CLI command can do, as the access policy sees it. Each route
/// declares one of these and where its tenant comes from; `AccessPolicy` decides.
public enum AccessAction: String, Sendable, CaseIterable, Codable {
    /// Tools with no tenant data: the platform matrix, quotes, rules validation.
    case tools
    /// The caller's own session, password and API tokens.
    case selfService = "self"
    case importsRead = "imports.read"
    case importsChange = "imports.change"
    case rulesRead = "rules.read"
    case rulesChange = "rules.change"
    /// Routing decisions, call traces, dialer health.
    case routingRead = "routing.read"
    case integrationsRead = "integrations.read"
    case integrationsChange = "integrations.change"
    case usersRead = "users.read"
    case usersChange = "users.change"
    case auditRead = "audit.read"

    /// Whether the action only reads.
    public var readsOnly: Bool {
        switch self {
        case .tools, .importsRead, .rulesRead, .routingRead, .integrationsRead, .usersRead, .auditRead: return true
        case .selfService, .importsChange, .rulesChange, .integrationsChange, .usersChange: return false
        }
    }

    /// Whether the action is about one tenant's data.
    public var isTenantScoped: Bool { self != .tools && self != .selfService }
}
