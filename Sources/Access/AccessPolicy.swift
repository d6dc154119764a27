/// The one place that decides who may do what, by role and tenant (FR48–FR51, "Customer
/// Isolation"). Pure: every console route and CLI command asks it, and its unit tests pin it.
///
/// - `admin`: everything about its own tenant except starting or changing imports.
/// - `read-only`: reads its own tenant's data; changes nothing.
/// - `operator` (our customer success): imports of every tenant; no tenant's routing, audit,
///   integrations or users.
/// - the local CLI: everything (it holds the database credentials); still audited.
public enum AccessPolicy {
    /// The decision: allowed, or denied with a reason fit to show the caller.
    public enum Decision: Sendable, Equatable {
        case allowed
        case denied(String)
    }

    /// May `principal` do `action` on `tenant`'s data? `tenant` nil means "every tenant" (a
    /// list without a tenant filter) for tenant-scoped actions.
    public static func decide(_ principal: Principal, _ action: AccessAction, tenant: String?) -> Decision {
        if principal.via == .cli { return .allowed }
        guard action.isTenantScoped else { return .allowed }
        switch principal.role {
        case .operator:
            return action == .importsRead || action == .importsChange
                ? .allowed : .denied("operators run imports; \(action.rawValue) belongs to the tenant's own users")
        case .admin, .readOnly:
            guard let own = principal.tenant, let tenant, tenant == own else {
                return .denied("\(principal.name) may only reach tenant \(principal.tenant ?? "-")")
            }
            if principal.role == .readOnly && !action.readsOnly { return .denied("read-only users cannot change anything") }
            if action == .importsChange { return .denied("imports are started and changed by customer success") }
            return .allowed
        }
    }

    /// `decide`, throwing `AccessError.forbidden` when denied.
    public static func require(_ principal: Principal, _ action: AccessAction, tenant: String?) throws {
        if case .denied(let reason) = decide(principal, action, tenant: tenant) { throw AccessError(.forbidden, reason) }
    }
}
