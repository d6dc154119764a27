import Foundation

/// What the router knows when a call comes in, gathered from Redis only.
public struct RoutingInput: Sendable {
    /// The lead lookup: found (attributes by CRM field name), no such lead, or failed / too slow.
    public enum Lead: Sendable, Equatable {
        case found([String: String])
        case notFound
        case unavailable(reason: String)
    }

    /// A dialer's state from the health poller and the shared circuit breaker.
    public enum Health: String, Sendable { case up, down, unknown }

    public let lead: Lead
    public let now: Date
    public var health: [String: Health]
    /// Free agents per dialer; nil (or absent) when capacity data is stale or missing.
    public var freeAgents: [String: Int?]

    public init(lead: Lead, now: Date, health: [String: Health] = [:], freeAgents: [String: Int?] = [:]) {
        self.lead = lead
        self.now = now
        self.health = health
        self.freeAgents = freeAgents
    }
}

/// The answer, and how it was reached (for the audit trail).
public struct RoutingDecision: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Hand the call to this dialer.
        case dial(dialer: String, target: String)
        /// No lead data: play the DTMF menu.
        case menu
        /// Both dialers are down: the hold / retry / apology / callback cascade (scenario 2).
        case cascade
    }

    public let action: Action
    /// The rule that decided: owner, tier, time, load_balancing, preferred, default, menu, cascade.
    public let rule: String
    /// Fallbacks taken on the way, in order (e.g. "crm_unavailable", "dialer_down:dialfire").
    public let fallbacks: [String]
}

extension RoutingRules {
    /// Decides where a call goes: ordered rules, first match wins (owner → tier → time of day →
    /// load balancing), scenario 5 for missing fields, then the health of the chosen dialer.
    /// Pure: the same input always gives the same decision.
    /// `zone`: the rules' time zone, when the caller has it at hand (the router caches it).
    public func decide(_ input: RoutingInput, zone: TimeZone? = nil) -> RoutingDecision {
        var fallbacks: [String] = []
        var choice: (dialer: String, rule: String)

        switch input.lead {
        case .unavailable(let reason):
            // Scenario 1: no retry, the caller is waiting.
            fallbacks.append("crm_unavailable:\(reason)")
            choice = (defaultDialer, "default")
        case .notFound:
            if !menu.isEmpty { return RoutingDecision(action: .menu, rule: "menu", fallbacks: ["no_lead_data"]) }
            fallbacks.append("no_lead_data")
            choice = (defaultDialer, "default")
        case .found(let fields):
            let owner = fields[ownerField].flatMap { $0.isEmpty ? nil : $0 }
            let tier = fields[tierField].flatMap { $0.isEmpty ? nil : $0 }
            if let owner, let dialer = ownerRoutes[owner] {
                choice = (dialer, "owner")
            } else if let tier, let dialer = tierRoutes[tier] {
                choice = (dialer, "tier")
            } else if let dialer = timeRuleDialer(at: input.now, zone: zone ?? TimeZone(identifier: timeZone)) {
                choice = (dialer, "time")
            } else if loadBalancing {
                let known = dialers.compactMap { d in (input.freeAgents[d.id] ?? nil).map { (d.id, $0) } }
                if known.count == dialers.count, let best = known.max(by: { $0.1 < $1.1 }) {
                    choice = (best.0, "load_balancing")
                } else {
                    // Scenario 3: capacity unknown: the customer's preferred dialer.
                    fallbacks.append("capacity_unknown")
                    choice = (preferredDialer, "preferred")
                }
            } else {
                if owner == nil && tier == nil { fallbacks.append("missing_fields") }
                choice = (defaultDialer, "default")
            }
        }

        // Scenario 4: a dialer declared down gets no calls; both down means the cascade.
        if input.health[choice.dialer] == .down {
            fallbacks.append("dialer_down:\(choice.dialer)")
            guard let other = dialers.first(where: { $0.id != choice.dialer && input.health[$0.id] != .down }) else {
                return RoutingDecision(action: .cascade, rule: "cascade", fallbacks: fallbacks)
            }
            choice = (other.id, choice.rule)
        }
        let target = dialer(choice.dialer)?.target ?? ""
        return RoutingDecision(action: .dial(dialer: choice.dialer, target: target), rule: choice.rule, fallbacks: fallbacks)
    }

    /// The dialer of the first time rule matching `date` in the tenant's time zone (by offset
    /// arithmetic: no Calendar on the hot path).
    func timeRuleDialer(at date: Date, zone: TimeZone?) -> String? {
        guard !timeRules.isEmpty, let zone else { return nil }
        let local = Int(date.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: date)
        let day = Int((Double(local) / 86_400).rounded(.down))
        let weekday = ((day + 3) % 7 + 7) % 7 + 1 // 1970-01-01 was a Thursday; ours: 1 = Monday
        let minute = (local - day * 86_400) / 60
        return timeRules.first { rule in
            guard rule.days.contains(weekday), let start = Self.minute(rule.start), let end = Self.minute(rule.end) else { return false }
            return start <= end ? (minute >= start && minute < end) : (minute >= start || minute < end)
        }?.dialer
    }

    /// The dialer a DTMF key selects (FR8); nil for a key the menu does not have.
    public func menuChoice(digit: String) -> String? {
        menu.first { $0.digit == digit }?.dialer
    }
}
