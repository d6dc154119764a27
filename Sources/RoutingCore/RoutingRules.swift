import Foundation

/// One tenant's routing configuration (FR41–FR45): which CRM fields drive routing, the ordered
/// rules, and the fallbacks the failure scenarios need. Stored in Postgres with every version kept;
/// the active version is what the router reads from Redis.
public struct RoutingRules: Sendable, Codable, Equatable {
    /// A dialer calls can be handed to.
    public struct Dialer: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable { case zendeskTalk = "zendesk_talk", dialfire }
        public let id: String
        public let kind: Kind
        /// Where the voice front door dials: a SIP URI or a phone number.
        public let target: String

        public init(id: String, kind: Kind, target: String) {
            self.id = id
            self.kind = kind
            self.target = target
        }
    }

    /// "Between `start` and `end` on these days (tenant time), send calls to `dialer`."
    public struct TimeRule: Sendable, Codable, Equatable {
        /// 1 = Monday … 7 = Sunday.
        public let days: [Int]
        public let start: String
        public let end: String
        public let dialer: String

        public init(days: [Int], start: String, end: String, dialer: String) {
            self.days = days
            self.start = start
            self.end = end
            self.dialer = dialer
        }
    }

    /// A key of the DTMF menu played when there is no lead data (FR7, FR8).
    public struct MenuOption: Sendable, Codable, Equatable {
        public let digit: String
        public let label: String
        public let dialer: String

        public init(digit: String, label: String, dialer: String) {
            self.digit = digit
            self.label = label
            self.dialer = dialer
        }
    }

    public var timeZone: String
    /// The CRM attribute holding the lead owner, and the one holding the score tier (FR41).
    public var ownerField: String
    public var tierField: String
    public var dialers: [Dialer]
    /// Scenarios 1 and 5: where calls go without usable CRM data.
    public var defaultDialer: String
    /// Scenario 3: where calls go when capacity data is missing.
    public var preferredDialer: String
    public var ownerRoutes: [String: String]
    public var tierRoutes: [String: String]
    public var timeRules: [TimeRule]
    /// Load balancing on live capacity (FR45): when no earlier rule matched.
    public var loadBalancing: Bool
    public var menu: [MenuOption]

    public init(timeZone: String = "UTC", ownerField: String = "lead_owner", tierField: String = "lead_score_tier", dialers: [Dialer],
                defaultDialer: String, preferredDialer: String, ownerRoutes: [String: String] = [:], tierRoutes: [String: String] = [:],
                timeRules: [TimeRule] = [], loadBalancing: Bool = true, menu: [MenuOption] = []) {
        self.timeZone = timeZone
        self.ownerField = ownerField
        self.tierField = tierField
        self.dialers = dialers
        self.defaultDialer = defaultDialer
        self.preferredDialer = preferredDialer
        self.ownerRoutes = ownerRoutes
        self.tierRoutes = tierRoutes
        self.timeRules = timeRules
        self.loadBalancing = loadBalancing
        self.menu = menu
    }

    /// Rejects a configuration the router could not follow, saying what to fix.
    public func validate() throws {
        guard TimeZone(identifier: timeZone) != nil else { throw RoutingError(.invalidRules, "time zone '\(timeZone)' is unknown") }
        guard !dialers.isEmpty else { throw RoutingError(.invalidRules, "at least one dialer is needed") }
        let ids = Set(dialers.map(\.id))
        guard ids.count == dialers.count else { throw RoutingError(.invalidRules, "dialer ids must be unique") }
        func known(_ id: String, _ where_: String) throws {
            guard ids.contains(id) else { throw RoutingError(.unknownDialer, "\(where_) points at unknown dialer '\(id)' (known: \(ids.sorted().joined(separator: ", ")))") }
        }
        try known(defaultDialer, "defaultDialer")
        try known(preferredDialer, "preferredDialer")
        for (owner, dialer) in ownerRoutes { try known(dialer, "owner rule '\(owner)'") }
        for (tier, dialer) in tierRoutes { try known(dialer, "tier rule '\(tier)'") }
        for (i, rule) in timeRules.enumerated() {
            try known(rule.dialer, "time rule \(i + 1)")
            guard !rule.days.isEmpty, rule.days.allSatisfy({ (1...7).contains($0) }) else {
                throw RoutingError(.invalidRules, "time rule \(i + 1): days must be 1 (Monday) to 7 (Sunday)")
            }
            guard Self.minute(rule.start) != nil, Self.minute(rule.end) != nil else {
                throw RoutingError(.invalidRules, "time rule \(i + 1): start and end must be HH:MM")
            }
        }
        for option in menu {
            try known(option.dialer, "menu key \(option.digit)")
            guard option.digit.count == 1, "0123456789*#".contains(option.digit) else {
                throw RoutingError(.invalidRules, "menu key '\(option.digit)' must be one of 0-9, * or #")
            }
        }
    }

    static func minute(_ text: String) -> Int? {
        let p = text.split(separator: ":")
        guard p.count == 2, p[1].count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440 else { return nil }
        return h * 60 + m
    }

    public func dialer(_ id: String) -> Dialer? { dialers.first { $0.id == id } }
}
