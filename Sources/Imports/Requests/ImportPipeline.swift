import Basics
import Foundation
import Logging
import Metrics
import Queue

/// The import engine: submits requests and defines the jobs that run them.
///
/// `import.validate` proves the credentials and counts the calls (one request); `import.page`
/// stores one listing page and fans out into `import.transcripts` jobs (one request each, up to
/// the connector's batch) and the next page. Every job is one API request under the key
/// `<platform>:<tenant>`, so the fleet-wide limiter holds the platform's rate limit. Standard
/// (non-urgent) requests do their heavy work only inside the night window.
public struct ImportPipeline: Sendable {
    public let store: ImportStore
    public let queue: JobQueue
    public let connectors: ConnectorSettings
    public let catalog: PlatformCatalog
    public let nightWindow: NightWindow
    public let notifier: ImportNotifier?
    public let timing: ImportTiming
    let logger: Logger

    /// Attempts and backoff of import jobs: enough to ride out a platform outage of several hours.
    static let maxAttempts = 30
    static let backoff = Backoff(baseMs: 2000, capMs: 15 * 60_000)

    public init(store: ImportStore, queue: JobQueue, connectors: ConnectorSettings, catalog: PlatformCatalog, nightWindow: NightWindow,
                notifier: ImportNotifier? = nil, timing: ImportTiming = ImportTiming(), logger: Logger = Logger(label: "switchboard.imports")) {
        self.timing = timing
        self.store = store
        self.queue = queue
        self.connectors = connectors
        self.catalog = catalog
        self.nightWindow = nightWindow
        self.notifier = notifier
        self.logger = logger
    }

    /// A created request, and the secret its callbacks are signed with (shown once).
    public struct Submitted: Sendable {
        public let request: ImportRequest
        public let callbackSecret: String?
    }

    /// Validates, stores (credentials sealed) and queues the validation. Bad input changes nothing.
    public func submit(_ new: NewImportRequest) async throws -> Submitted {
        _ = try new.validate(catalog: catalog, outbound: connectors.http.policy)
        let secret = new.callbackURL == nil ? nil : ImportNotifier.newSecret()
        let request = try await store.create(new, callbackSecret: secret)
        try await enqueue(Step.validate, for: request)
        return Submitted(request: request, callbackSecret: secret)
    }

    /// Imports a manual upload at once: valid rows are stored (media copied under `mediaDirectory`),
    /// malformed rows are listed as failures, and CS hears the outcome like any import.
    public func importUpload(_ upload: ManualUpload, tenant: String, platform: String, createdBy: String, mediaDirectory: String) async throws -> ImportRequest {
        let found = try catalog.platform(platform)
        let days = upload.calls.compactMap(\.startedAt).sorted()
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withFullDate]
        let today = iso.string(from: Date())
        var new = NewImportRequest(tenant: tenant, platform: found.id, credentials: "{}", fromDate: days.first.map(iso.string(from:)) ?? today,
                                   toDate: days.last.map(iso.string(from:)) ?? today, estimatedCalls: upload.calls.count + upload.rejected.count,
                                   urgency: .onboarding, createdBy: createdBy)
        new.tenantName = tenant
        if let problem = TenantID.problem(tenant) { throw ImportError(.invalidInput, problem) }
        guard !upload.calls.isEmpty || !upload.rejected.isEmpty else { throw ImportError(.invalidInput, "the manifest has no calls") }
        let request = try await store.create(new)
        var calls = upload.calls
        for i in calls.indices {
            guard let source = upload.media[calls[i].externalId] else { continue }
            let folder = "\(mediaDirectory)/\(tenant)/\(found.id)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let target = "\(folder)/\(calls[i].externalId.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "call").\(URL(fileURLWithPath: source).pathExtension)"
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: source, toPath: target)
            calls[i].recordingURL = URL(fileURLWithPath: target).absoluteString
        }
        try await store.transition(request.id, from: [.validating], to: .running, total: calls.count + upload.rejected.count)
        for start in stride(from: 0, to: calls.count, by: 500) {
            try await store.store(Array(calls[start..<min(start + 500, calls.count)]), for: request)
        }
        try await store.recordRejectedRows(request.id, upload.rejected)
        try await store.markPage(request.id, cursor: "upload", calls: calls.count, last: true)
        try await finishIfDone(request)
        return try await store.request(request.id)
    }

    /// Puts the failed calls of a finished request back to work; returns how many.
    public func retryFailed(_ id: Int) async throws -> Int {
        let request = try await store.request(id)
        guard request.state == .completedWithFailures else {
            throw ImportError(.conflict, "import request \(id) is \(request.state.rawValue): only completed_with_failures can retry failed calls")
        }
        let ids = try await store.resetFailures(id)
        guard !ids.isEmpty, try await store.transition(id, from: [.completedWithFailures], to: .running) else { return 0 }
        let batch = max(1, try connectors.connector(platform: request.platform, credentials: [:]).transcriptBatchSize)
        for start in stride(from: 0, to: ids.count, by: batch) {
            try await enqueue(.transcripts, for: request, ids: Array(ids[start..<min(start + batch, ids.count)]))
        }
        return ids.count
    }

    /// Records an event once and queues its delivery: to CS's Slack, and to the request's
    /// callback URL when it has one (each by its own job).
    func notify(_ request: ImportRequest, kind: String, message: String) async throws {
        guard let event = try await store.addEvent(request.id, kind: kind, message: message) else { return }
        try await queueDelivery(of: event, on: .slack, for: request)
        if request.callbackURL != nil { try await queueDelivery(of: event, on: .callback, for: request) }
    }

    /// The fleet-wide rate limits of every platform, and Slack's one message a second, for the imports queue.
    public func applyRateLimits(marginMs: Int) async throws {
        for platform in catalog.platforms {
            try await queue.setRateLimit(group: platform.id, platform.pacing, marginMs: marginMs)
        }
        try await queue.setRateLimit(group: "notify", RateLimit([RateWindow(limit: 1, windowMs: 1000)]), marginMs: marginMs)
    }
}
