import Basics

extension TenantID {
    /// Throws `RoutingError.invalidInput` naming the rule when `tenant` is not valid.
    public static func check(_ tenant: String) throws(RoutingError) {
        if let problem = problem(tenant) { throw RoutingError(.invalidInput, problem) }
    }
}
