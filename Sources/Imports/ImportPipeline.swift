import Foundation
import Logging
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
    let logger: Logger

    /// Attempts and backoff of import jobs: enough to ride out a platform outage of several hours.
    static let maxAttempts = 30
    static let backoff = Backoff(baseMs: 2000, capMs: 15 * 60_000)

    public init(store: ImportStore, queue: JobQueue, connectors: ConnectorSettings, catalog: PlatformCatalog, nightWindow: NightWindow,
                logger: Logger = Logger(label: "switchboard.imports")) {
        self.store = store
        self.queue = queue
        self.connectors = connectors
        self.catalog = catalog
        self.nightWindow = nightWindow
        self.logger = logger
    }

    /// Validates, stores (credentials sealed) and queues the validation. Bad input changes nothing.
    public func submit(_ new: NewImportRequest) async throws -> ImportRequest {
        _ = try new.validate(catalog: catalog)
        let request = try await store.create(new)
        try await enqueue(Step.validate, for: request)
        return request
    }

    /// The fleet-wide rate limits of every platform, for the imports queue.
    public func applyRateLimits(marginMs: Int) async throws {
        for platform in catalog.platforms {
            try await queue.setRateLimit(group: platform.id, platform.pacing, marginMs: marginMs)
        }
    }

    // MARK: Jobs

    enum Step: String {
        case validate = "import.validate"
        case page = "import.page"
        case transcripts = "import.transcripts"
    }

    struct Payload: Codable {
        let request: Int
        var cursor: String? = nil
        var ids: [String]? = nil
    }

    func enqueue(_ step: Step, for request: ImportRequest, cursor: String? = nil, ids: [String]? = nil, delayMs: Int = 0) async throws {
        let payload = String(decoding: try JSONEncoder().encode(Payload(request: request.id, cursor: cursor, ids: ids)), as: UTF8.self)
        let unique: String
        switch step {
        case .validate: unique = "import:\(request.id):validate"
        case .page: unique = "import:\(request.id):page:\(cursor ?? "")"
        case .transcripts: unique = "import:\(request.id):transcripts:\(ids?.first ?? "")"
        }
        try await queue.enqueue(NewJob(type: step.rawValue, payload: payload, key: "\(request.platform):\(request.tenant)",
                                       priority: request.urgency.priority, maxAttempts: Self.maxAttempts, delayMs: delayMs,
                                       uniqueKey: unique.count <= 300 ? unique : String(unique.prefix(300))))
    }

    /// The request's [from, to) as instants: the to date is inclusive.
    func range(_ request: ImportRequest) -> (Date, Date) {
        let from = NewImportRequest.day(request.fromDate) ?? Date(timeIntervalSince1970: 0)
        let to = (NewImportRequest.day(request.toDate) ?? Date()).addingTimeInterval(86_400)
        return (from, to)
    }

    /// For standard requests outside the night window: re-queues the job for the next opening.
    func deferredToNight(_ step: Step, _ request: ImportRequest, cursor: String? = nil, ids: [String]? = nil) async throws -> Bool {
        let now = Date()
        guard !request.urgency.isUrgent, !nightWindow.contains(now) else { return false }
        let opening = nightWindow.nextOpening(after: now)
        // A new copy under the same unique key can only be enqueued once this one is done, so the
        // continuation goes in with a distinct key suffix.
        let payload = String(decoding: try JSONEncoder().encode(Payload(request: request.id, cursor: cursor, ids: ids)), as: UTF8.self)
        try await queue.enqueue(NewJob(type: step.rawValue, payload: payload, key: "\(request.platform):\(request.tenant)",
                                       priority: request.urgency.priority, maxAttempts: Self.maxAttempts,
                                       delayMs: max(1000, Int(opening.timeIntervalSince(now) * 1000))))
        return true
    }

    func connector(for request: ImportRequest) async throws -> any CallConnector {
        try connectors.connector(platform: request.platform, credentials: try await store.credentials(of: request))
    }

    func load(_ context: JobContext) async throws -> (Payload, ImportRequest)? {
        let payload = try JobFailure.decode(Payload.self, from: context.job.payload)
        let request: ImportRequest
        do { request = try await store.request(payload.request) } catch let error as ImportError where error.code == .notFound {
            throw JobFailure(.fatal, error.message)
        }
        return request.state.isFinished ? nil : (payload, request)
    }

    /// The job types of the import engine.
    public var definitions: [JobDefinition] {
        [
            JobDefinition(type: Step.validate.rawValue, backoff: Self.backoff) { context in try await validate(context) },
            JobDefinition(type: Step.page.rawValue, backoff: Self.backoff) { context in try await page(context) },
            JobDefinition(type: Step.transcripts.rawValue, backoff: Self.backoff) { context in try await transcripts(context) },
        ]
    }

    func validate(_ context: JobContext) async throws {
        guard let (_, request) = try await load(context), request.state == .validating else { return }
        let platform = try catalog.platform(request.platform)
        let (from, to) = range(request)
        let count: Int
        do {
            count = try await connector(for: request).countCalls(from: from, to: to)
        } catch let failure as JobFailure where failure.code == .fatal {
            if try await store.transition(request.id, from: [.validating], to: .failed, error: "invalid credentials: \(failure.message)") {
                try await store.addEvent(request.id, kind: "invalid_credentials",
                                         message: "Import #\(request.id) (\(platform.name), \(request.tenant)): \(platform.name) rejected the credentials. Ask the customer for new ones and create the request again.")
            }
            return
        }
        if count == 0 {
            if try await store.transition(request.id, from: [.validating], to: .noCalls, total: 0) {
                try await store.addEvent(request.id, kind: "no_calls",
                                         message: "Import #\(request.id) (\(platform.name), \(request.tenant)): no calls between \(request.fromDate) and \(request.toDate). Confirm the date range with the customer.")
            }
            return
        }
        let now = Date()
        let quote = try ImportQuote(platform: platform, calls: count, nightWindow: request.urgency.isUrgent ? nil : nightWindow)
        let eta = now.addingTimeInterval(Double(quote.durationMs(startingAt: now)) / 1000)
        let runNow = request.urgency.isUrgent || nightWindow.contains(now)
        guard try await store.transition(request.id, from: [.validating], to: runNow ? .running : .waiting, total: count, eta: eta) else { return }
        let delay = runNow ? 0 : max(1000, Int(nightWindow.nextOpening(after: now).timeIntervalSince(now) * 1000))
        try await enqueue(.page, for: request, delayMs: delay)
        logger.info("import validated", metadata: ["request": "\(request.id)", "calls": "\(count)", "eta": "\(eta)"])
    }

    func page(_ context: JobContext) async throws {
        guard let (payload, request) = try await load(context) else { return }
        if try await deferredToNight(.page, request, cursor: payload.cursor) { return }
        try await store.transition(request.id, from: [.waiting], to: .running)
        if try await store.pageDone(request.id, cursor: payload.cursor) { return }
        let (from, to) = range(request)
        let connector = try await connector(for: request)
        let page = try await connector.page(from: from, to: to, cursor: payload.cursor)
        try await store.store(page.calls, for: request)
        if connector.transcriptBatchSize > 0 {
            let ids = page.calls.map(\.externalId)
            for start in stride(from: 0, to: ids.count, by: connector.transcriptBatchSize) {
                try await enqueue(.transcripts, for: request, ids: Array(ids[start..<min(start + connector.transcriptBatchSize, ids.count)]))
            }
        }
        if let next = page.nextCursor { try await enqueue(.page, for: request, cursor: next) }
        try await store.markPage(request.id, cursor: payload.cursor, calls: page.calls.count, last: page.nextCursor == nil)
        try await context.progress(done: page.calls.count, total: request.totalCalls ?? page.calls.count)
        try await finishIfDone(request)
    }

    func transcripts(_ context: JobContext) async throws {
        guard let (payload, request) = try await load(context), let ids = payload.ids, !ids.isEmpty else { return }
        if try await deferredToNight(.transcripts, request, ids: ids) { return }
        let missing = try await store.incomplete(ids, for: request)
        if !missing.isEmpty {
            let (from, to) = range(request)
            let found = try await connector(for: request).transcripts(from: from, to: to, callIds: missing)
            try await store.storeTranscripts(found, requested: missing, for: request)
        }
        try await finishIfDone(request)
    }

    func finishIfDone(_ request: ImportRequest) async throws {
        guard let state = try await store.refreshProgress(request.id) else { return }
        let finished = try await store.request(request.id)
        let name = (try? catalog.platform(request.platform).name) ?? request.platform
        if state == .completed {
            try await store.addEvent(request.id, kind: "completed",
                                     message: "Import #\(request.id) (\(name), \(request.tenant)) completed: \(finished.doneCalls) calls imported.")
        } else {
            try await store.addEvent(request.id, kind: "completed_with_failures",
                                     message: "Import #\(request.id) (\(name), \(request.tenant)) completed with failures: \(finished.doneCalls) imported, \(finished.failedCalls) failed. Retry them with: switchboard import retry-failed \(request.id)")
        }
        logger.info("import finished", metadata: ["request": "\(request.id)", "state": "\(state.rawValue)"])
    }
}
