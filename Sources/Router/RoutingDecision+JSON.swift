import RoutingCore

extension RoutingDecision {
    /// Writes the answer's members (dialer and target, or menu / cascade; rule; fallbacks).
    public func write(into json: inout JSONText) {
        switch action {
        case .dial(let dialer, let target): json.member("dialer", dialer); json.member("target", target)
        case .menu: json.member("menu", true)
        case .cascade: json.member("cascade", true)
        }
        json.member("rule", rule)
        json.member("fallbacks", fallbacks)
    }
}
