import Basics
import Curl
import Foundation

/// How urgently an import must run: urgent ones start at once, standard ones in the night window.
public enum Urgency: String, Sendable, Codable, CaseIterable {
    case standard, onboarding, deal, retention

    /// Starts at once instead of waiting for the night window.
    public var isUrgent: Bool { self != .standard }

    /// Queue priority of the request's jobs (within the platform account's key).
    public var priority: Int {
        switch self {
        case .deal: return 9
        case .onboarding: return 8
        case .retention: return 7
        case .standard: return 3
        }
    }
}

/// Where an import request stands.
public enum ImportState: String, Sendable, Codable {
    case validating, waiting, running, completed
    /// Its jobs died or stopped making progress: CS was told; `switchboard import resume N` restarts it.
    case stalled
    case completedWithFailures = "completed_with_failures"
    case noCalls = "no_calls"
    case failed, cancelled

    /// No more work will happen (until `retry-failed`).
    public var isFinished: Bool { [.completed, .completedWithFailures, .noCalls, .failed, .cancelled].contains(self) }
}

/// An import request as CS sees it. Credentials are never part of it.
public struct ImportRequest: Sendable, Codable, Equatable {
    public let id: Int
    public let tenant: String
    public let platform: String
    public let fromDate: String
    public let toDate: String
    public let estimatedCalls: Int
    public let urgency: Urgency
    public let requestedCompletion: String?
    public let callbackURL: String?
    public let state: ImportState
    public let totalCalls: Int?
    public let doneCalls: Int
    public let failedCalls: Int
    public let error: String?
    public let eta: Date?
    public let createdBy: String
    public let createdAt: Date
    public let finishedAt: Date?

    /// Calls still to import.
    public var remainingCalls: Int { max(0, (totalCalls ?? estimatedCalls) - doneCalls - failedCalls) }
}

/// What CS submits to start an import.
public struct NewImportRequest: Sendable {
    public var tenant: String
    public var tenantName: String?
    public var platform: String
    /// The platform credentials as JSON (Gong: {"accessKey": …, "accessKeySecret": …}); sealed at once.
    public var credentials: String
    public var fromDate: String
    public var toDate: String
    public var estimatedCalls: Int
    public var urgency: Urgency
    public var requestedCompletion: String?
    public var callbackURL: String?
    public var createdBy: String

    public init(tenant: String, tenantName: String? = nil, platform: String, credentials: String, fromDate: String, toDate: String,
                estimatedCalls: Int, urgency: Urgency = .standard, requestedCompletion: String? = nil, callbackURL: String? = nil,
                createdBy: String) {
        self.tenant = tenant
        self.tenantName = tenantName
        self.platform = platform
        self.credentials = credentials
        self.fromDate = fromDate
        self.toDate = toDate
        self.estimatedCalls = estimatedCalls
        self.urgency = urgency
        self.requestedCompletion = requestedCompletion
        self.callbackURL = callbackURL
        self.createdBy = createdBy
    }

    static func day(_ text: String) -> Date? {
        guard text.count == 10 else { return nil }
        return ISO8601DateFormatter().date(from: text + "T00:00:00Z")
    }

    /// Checks everything before anything is stored; the message says what to fix.
    /// `outbound` is the policy the callback and the credentials' `baseUrl` will be called under
    /// (its scheme rule is checked here; the address check happens when they are called).
    public func validate(catalog: PlatformCatalog, outbound: OutboundPolicy = .open) throws -> Platform {
        if let problem = TenantID.problem(tenant) { throw ImportError(.invalidInput, problem) }
        let found = try catalog.platform(platform)
        guard found.status == .supported else {
            throw ImportError(.invalidInput, "\(found.name) is \(found.status.label.lowercased()): no API import; offer manual upload")
        }
        guard let from = Self.day(fromDate), let to = Self.day(toDate) else {
            throw ImportError(.invalidInput, "dates must be YYYY-MM-DD (from \(fromDate), to \(toDate))")
        }
        guard from <= to else { throw ImportError(.invalidInput, "from date \(fromDate) is after to date \(toDate)") }
        if let requestedCompletion, Self.day(requestedCompletion) == nil {
            throw ImportError(.invalidInput, "requested completion date must be YYYY-MM-DD")
        }
        guard (0...10_000_000).contains(estimatedCalls) else { throw ImportError(.invalidInput, "estimated calls must be 0-10,000,000") }
        if let callbackURL {
            guard let url = URL(string: callbackURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ImportError(.invalidInput, "callback URL must be an http(s) URL")
            }
            if let problem = outbound.schemeProblem(callbackURL) { throw ImportError(.invalidInput, "callback URL \(problem)") }
        }
        guard !createdBy.isEmpty, createdBy.count <= 200 else { throw ImportError(.invalidInput, "created-by must name who asked (1-200 characters)") }
        if let base = try ConnectorCredentials.validate(credentials, platform: found.id)["baseUrl"], let problem = outbound.schemeProblem(base) {
            throw ImportError(.invalidInput, "credential field 'baseUrl' \(problem)")
        }
        return found
    }
}
