/// Where the router's state lives in Redis. Each tenant's keys share a hash tag, so a route
/// lookup (lead, rules version, health, capacity) is one pipeline to one Cluster slot.
public struct RoutingKeys: Sendable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    func tag(_ tenant: String) -> String { "\(prefix):{routing:\(tenant)}" }
    /// Hash of one lead's CRM fields (values sealed), by the blind index of its E.164 number
    /// (`SealedLeads` makes both): no key names a phone number.
    public func lead(_ tenant: String, index: String) -> String {
        // Built by appending (on every routed call; interpolation costs more).
        var key = prefix
        key.reserveCapacity(prefix.utf8.count + tenant.utf8.count + index.utf8.count + 17)
        key += ":{routing:"
        key += tenant
        key += "}:lead:"
        key += index
        return key
    }
    /// Hash: `version`, `json` of the active rules.
    public func rules(_ tenant: String) -> String { "\(tag(tenant)):rules" }
    /// Set while Braze is known to have no user with this number (so misses are not looked up
    /// again), by the number's blind index.
    public func noLead(_ tenant: String, index: String) -> String { "\(tag(tenant)):nolead:\(index)" }
    /// Counter of the router's live Braze lookups in the current minute (its share of the limit).
    public func liveLookups(_ tenant: String, minute: Int) -> String { "\(tag(tenant)):braze-live:\(minute)" }
    /// When a voice call's first webhook arrived (ms), until its setup ends (connected or queued).
    public func callStart(_ tenant: String, _ callId: String) -> String { "\(tag(tenant)):callstart:\(callId)" }
    /// Hash: dialer id → up / down / unknown.
    public func health(_ tenant: String) -> String { "\(tag(tenant)):health" }
    /// Hash: dialer id → "<free agents>|<measured at, ms>".
    public func capacity(_ tenant: String) -> String { "\(tag(tenant)):capacity" }
    /// Hash: one integration's circuit breaker (state, consecutive failures / successes).
    public func breaker(_ tenant: String, _ integration: String) -> String { "\(tag(tenant)):breaker:\(integration)" }
    /// Hash: "<minute>:ok|fail" → calls to one integration in that minute (for failure-rate alerts).
    public func outcomeCounts(_ tenant: String, _ integration: String) -> String { "\(tag(tenant)):outcomes:\(integration)" }
    /// Alert bookkeeping of a tenant (last recovery mailed, rate alerts sent).
    public func alerts(_ tenant: String, _ what: String) -> String { "\(tag(tenant)):alerts:\(what)" }
    /// List: the tenant's breaker transitions (JSON), newest first, the last 1,000.
    public func breakerLog(_ tenant: String) -> String { "\(tag(tenant)):breaker-log" }
    /// Hash: tenant → the Twilio-compatible auth token (sealed with a master key) for signatures.
    public var voiceTokens: String { "\(prefix):routing:voicetokens" }
    /// Hash: tenant → the Telnyx account's public key (base64), for TeXML request signatures.
    public var voicePublicKeys: String { "\(prefix):routing:voicepublickeys" }
    /// Hash: SHA-256 of an API key → tenant.
    public var apiKeys: String { "\(prefix):routing:apikeys" }
    /// Sorted set of cache misses ("tenant|<blind index>", scored by time) for the crm-worker to look up.
    public var misses: String { "\(prefix):{crm}:misses" }
    /// Hash: misses member → the number, sealed with the tenant's personal-data key.
    public var missPhones: String { "\(prefix):{crm}:miss-phones" }
    /// Hash: tenant → its personal-data keys, sealed with a master key (the routers' copy).
    public var personalKeys: String { "\(prefix):routing:personal-keys" }
    /// Hash: tenant → Braze base URL and REST key (sealed with a master key) for live lookups.
    public var brazeAccess: String { "\(prefix):routing:braze" }
    /// The stream of call outcomes from dialers, written back to Braze by the crm-worker.
    public var outcomes: String { "\(prefix):{crm}:outcomes" }
    /// The stream every decision is appended to (the audit worker drains it into Postgres).
    public var auditStream: String { "\(prefix):{audit}:decisions" }
}
