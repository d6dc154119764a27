/// The jobs of the `routing` queue: the router (producer) and the crm-worker (consumer) share
/// these types, so a job's name, payload shape and queue key are written once.
public enum RoutingQueue {
    /// The job queue the crm-worker works for alerts and callbacks.
    public static let name = "routing"
}

/// `routing.sms-alert`: text the tenant's on-call number through its SMS integration (both
/// dialers failed, scenario 2).
public struct SMSAlertJob: Sendable, Codable, Equatable {
    /// The job's type (its handler's name).
    public static let type = "routing.sms-alert"
    public let tenant: String
    public let callId: String
    public let caller: String
    public let message: String

    public init(tenant: String, callId: String, caller: String, message: String) {
        self.tenant = tenant
        self.callId = callId
        self.caller = caller
        self.message = message
    }

    /// The rate-limit key its jobs share: the tenant's own SMS account (the `sms` group's limit
    /// applies to each tenant separately, so one tenant's flood never spends another's budget).
    public var queueKey: String { "sms:\(tenant)" }
}

/// `routing.callback`: file a callback request with the dialer (a caller pressed 1 at the
/// apology menu).
public struct CallbackJob: Sendable, Codable, Equatable {
    /// The job's type (its handler's name).
    public static let type = "routing.callback"
    public let tenant: String
    public let callId: String
    public let phone: String
    public let dialer: String

    public init(tenant: String, callId: String, phone: String, dialer: String) {
        self.tenant = tenant
        self.callId = callId
        self.phone = phone
        self.dialer = dialer
    }

    /// The rate-limit key its jobs share: the tenant's own dialer account (tenants whose dialers
    /// have the same id do not share a budget).
    public var queueKey: String { "callback:\(tenant):\(dialer)" }
    /// At most one pending request per call.
    public var uniqueKey: String { "callback:\(tenant):\(callId)" }
}

/// `routing.access-sync`: rebuild the router's Redis copy of API keys, voice tokens and Braze
/// access from Postgres (scheduled every minute; the payload only says why).
public struct AccessSyncJob: Sendable, Codable, Equatable {
    /// The job's type (its handler's name).
    public static let type = "routing.access-sync"
    public let why: String?

    public init(why: String? = nil) { self.why = why }
}
