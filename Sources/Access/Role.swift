/// What a user may do, per the router PRD (FR48–FR51): a tenant's `admin` configures it (rules,
/// integrations, users, credentials), a tenant's `read-only` user sees dashboards and reports,
/// and our own customer-success `operator` runs imports for every tenant.
public enum Role: String, Sendable, Codable, CaseIterable {
    case admin
    case readOnly = "read-only"
    case `operator`

    /// Whether users of this role belong to one tenant (operators span tenants).
    public var isTenantBound: Bool { self != .operator }

    /// Whether a token made by a user of this role may carry `other` (a token never has more
    /// rights than its user: an admin may make a read-only token, not the reverse).
    public func mayGrant(_ other: Role) -> Bool {
        switch self {
        case .admin: return other == .admin || other == .readOnly
        case .readOnly: return other == .readOnly
        case .operator: return other == .operator
        }
    }

    /// The role named `text`, or an error naming the choices.
    public static func parse(_ text: String) throws -> Role {
        guard let role = Role(rawValue: text) else {
            throw AccessError(.invalidInput, "role must be one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }
}
