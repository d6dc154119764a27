/// The rate a vendor really allows one key, learned from its 429s: a platform account's budget can
/// be lower than documented (Gong's limit is per company and shared with the customer's other
/// integrations).
///
/// The rule, run atomically inside Redis (`QueueScripts`): on a 429 for a rate-limited key, at
/// most once a second, the key's rate drops to what the vendor accepted over the last 10 s, but
/// no lower than half and no higher than 0.85 of the rate that was refused (multiplicative
/// decrease, informed by what got through); that refused rate is the ceiling. The rate then climbs
/// within 5 s to halfway between the new rate and the ceiling (at most 0.95 of it), and probes on
/// slowly (a quadratic climb, 60 s to reach the ceiling again, faster past it), so the vendor
/// refuses rarely and a limit that was raised is found again. Once it is back at the documented rate
/// the key returns to the documented windows. While learning, the key's claims are paced one at a
/// time, `1000 / rate` ms apart, on top of the documented windows.
public struct LearnedRate: Sendable, Codable, Equatable {
    /// The rate-limit key, e.g. `gong:acme`.
    public let key: String
    /// Requests per second the key is paced to now.
    public let perSecond: Double
    /// Requests per second the documented limit's shortest window allows (3 of "3/s,10000/d").
    public let documentedPerSecond: Double
    /// The rate the vendor last refused.
    public let ceilingPerSecond: Double
    /// When the rate was last lowered (ms since 1970).
    public let sinceMs: Int

    public init(key: String, perSecond: Double, documentedPerSecond: Double, ceilingPerSecond: Double, sinceMs: Int) {
        self.key = key
        self.perSecond = perSecond
        self.documentedPerSecond = documentedPerSecond
        self.ceilingPerSecond = ceilingPerSecond
        self.sinceMs = sinceMs
    }

    /// The documented limit with the learned pace added: what quotes and ETAs plan with.
    public func pacing(documented: RateLimit) -> RateLimit {
        guard perSecond > 0, perSecond.isFinite else { return documented }
        let spacing = Int(max(1, min((1000 / perSecond).rounded(.up), 86_400_000)))
        return RateLimit(documented.windows + [RateWindow(limit: 1, windowMs: spacing)])
    }

    /// "1.02/s (documented 3/s)", for the CLI.
    public var summary: String {
        "\(Self.format(perSecond))/s learned (documented \(Self.format(documentedPerSecond))/s, refused at \(Self.format(ceilingPerSecond))/s)"
    }

    static func format(_ x: Double) -> String {
        let hundredths = Int((x * 100).rounded())
        return hundredths % 100 == 0 ? "\(hundredths / 100)" : "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}
