import Foundation
import Logging
import Metrics
import Queue

/// The import engine's jobs: validate (prove the credentials, count the calls), page (one
/// listing page fanned out into calls), transcripts, notify; each idempotent, each inside the
/// platform's fleet-wide limits and, for standard urgency, the night window.
extension ImportPipeline {
    enum Step: String {
        case validate = "import.validate"
        case page = "import.page"
        case transcripts = "import.transcripts"
        case notify = "import.notify"
        case callback = "import.callback"
        case sweep = "import.notify-sweep"
        case watch = "import.watch"
    }

    struct Payload: Codable {
        let request: Int
        var cursor: String? = nil
        var ids: [String]? = nil
        /// The listing chain's part of the range (ISO-8601 instants), for page jobs.
        var from: String? = nil
        var to: String? = nil
    }

    func enqueue(_ step: Step, for request: ImportRequest, cursor: String? = nil, ids: [String]? = nil,
                 chain: (from: Date, to: Date)? = nil, delayMs: Int = 0) async throws {
        let iso = ISO8601DateFormatter()
        let payload = String(decoding: try JSONEncoder().encode(Payload(request: request.id, cursor: cursor, ids: ids,
                                                                        from: chain.map { iso.string(from: $0.from) },
                                                                        to: chain.map { iso.string(from: $0.to) })), as: UTF8.self)
        let unique: String
        switch step {
        case .validate: unique = "import:\(request.id):validate"
        case .page: unique = "import:\(request.id):page:\(chain.map { iso.string(from: $0.from) } ?? ""):\(cursor ?? "")"
        case .transcripts: unique = "import:\(request.id):transcripts:\(ids?.first ?? "")"
        case .notify, .callback, .sweep, .watch: unique = "import:\(request.id):\(step.rawValue)"
        }
        try await queue.enqueue(NewJob(type: step.rawValue, payload: payload, key: limitKey(request),
                                       priority: request.urgency.priority, maxAttempts: Self.maxAttempts, delayMs: delayMs,
                                       uniqueKey: unique.count <= 300 ? unique : String(unique.prefix(300))))
    }

    /// The fleet-wide rate-limit key of a request's jobs: one per platform account.
    func limitKey(_ request: ImportRequest) -> String { "\(request.platform):\(request.tenant)" }

    /// The request's [from, to) as instants: the to date is inclusive.
    func range(_ request: ImportRequest) -> (Date, Date) {
        let from = NewImportRequest.day(request.fromDate) ?? Date(timeIntervalSince1970: 0)
        let to = (NewImportRequest.day(request.toDate) ?? Date()).addingTimeInterval(86_400)
        return (from, to)
    }

    /// Cursor chains a listing runs side by side: one chain fetches one page per round trip, so a
    /// single chain could not use a 3/s budget; four keep it busy.
    public static let listingChains = 4

    /// The listing chains of a request: [from, to) cut into equal spans (whole days).
    func chains(_ request: ImportRequest) -> [(from: Date, to: Date)] {
        let (from, to) = range(request)
        let days = max(1, Int((to.timeIntervalSince(from) / 86_400).rounded()))
        let count = min(Self.listingChains, days)
        func boundary(_ i: Int) -> Date {
            i == count ? to : from.addingTimeInterval(Double(days * i / count) * 86_400)
        }
        return (0..<count).map { (from: boundary($0), to: boundary($0 + 1)) }
    }

    /// For standard requests outside the night window: re-queues the job for the next opening.
    func deferredToNight(_ step: Step, _ request: ImportRequest, payload original: Payload) async throws -> Bool {
        let now = Date()
        guard !request.urgency.isUrgent, !nightWindow.contains(now) else { return false }
        let opening = nightWindow.nextOpening(after: now)
        // A new copy under the same unique key can only be enqueued once this one is done, so the
        // continuation goes in without one.
        let payload = String(decoding: try JSONEncoder().encode(original), as: UTF8.self)
        try await queue.enqueue(NewJob(type: step.rawValue, payload: payload, key: limitKey(request),
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
            JobDefinition(type: Step.notify.rawValue, backoff: Self.backoff) { context in try await deliver(context, on: .slack) },
            JobDefinition(type: Step.callback.rawValue, backoff: Self.backoff) { context in try await deliver(context, on: .callback) },
            JobDefinition(type: Step.sweep.rawValue) { _ in
                for stuck in try await store.stuckEvents(olderThan: 120) {
                    let request = try await store.undelivered(event: stuck.event, on: stuck.channel)?.requestId
                    if let request, let owner = try? await store.request(request) { try await queueDelivery(of: stuck.event, on: stuck.channel, for: owner) }
                }
            },
            JobDefinition(type: Step.watch.rawValue) { _ in _ = try await watch() },
        ]
    }

    struct EventPayload: Codable { let event: Int }

    /// Delivers one event on one channel, once: CS's Slack message (one key for the fleet, Slack's
    /// 1/s) or the request's signed callback (a key per tenant, so a customer's broken endpoint
    /// retries on its own and delays no one else).
    func deliver(_ context: JobContext, on channel: ImportStore.Channel) async throws {
        let payload = try JobFailure.decode(EventPayload.self, from: context.job.payload)
        guard let event = try await store.undelivered(event: payload.event, on: channel) else { return }
        let request = try await store.request(event.requestId)
        if let notifier {
            switch channel {
            case .slack: try await notifier.deliverToSlack(message: event.message)
            case .callback:
                try await notifier.deliverToCallback(event: payload.event, kind: event.kind, message: event.message, at: event.at, request: request,
                                                     callbackSecret: try await store.callbackSecret(of: request))
            }
        }
        try await store.markDelivered(event: payload.event, on: channel)
    }

    /// Queues the delivery of an event on one channel.
    func queueDelivery(of event: Int, on channel: ImportStore.Channel, for request: ImportRequest) async throws {
        let type = channel == .slack ? Step.notify : Step.callback
        try await queue.enqueue(NewJob(type: type.rawValue, payload: #"{"event":\#(event)}"#,
                                       key: channel == .slack ? "notify" : "callback:\(request.tenant)",
                                       maxAttempts: Self.maxAttempts, uniqueKey: "import:\(channel.rawValue):\(event)"))
    }

    /// Runs one call to the platform and decides what its failure means for the request: a 429
    /// pauses the account's key (and moves the ETA); rejected credentials fail the request with
    /// the invalid-credentials notice, whatever step it is in; an outage is retried with backoff,
    /// then at a slow cadence (`ImportTiming`) until the request's deadline, and CS hears of it
    /// once it has lasted 24 h (real elapsed time, kept in Postgres).
    func platformCall<R: Sendable>(_ request: ImportRequest, _ body: () async throws -> R) async throws -> R {
        do {
            let result = try await body()
            try await store.platformAnswered(request.id)
            return result
        } catch let failure as JobFailure {
            let name = (try? catalog.platform(request.platform).name) ?? request.platform
            if case .rateLimited(let retryAfterMs) = failure.code {
                try await store.extendEta(request.id, byMs: retryAfterMs)
                throw failure
            }
            if failure.rejectsCredentials {
                if try await store.transition(request.id, from: [.validating, .waiting, .running, .stalled], to: .failed,
                                              error: "invalid credentials: \(failure.message)") {
                    try await notify(request, kind: "invalid_credentials",
                                     message: "Import #\(request.id) (\(name), \(request.tenant)): \(name) rejected the credentials (\(failure.message)). Ask the customer for new ones and create the request again.")
                }
                throw failure
            }
            guard failure.code == .retryable else { throw failure }
            let failingMs = Int(min(try await store.platformFailing(request.id), 1e9) * 1000)
            if failingMs > 24 * 3_600_000 {
                try await notify(request, kind: "platform_down",
                                 message: "Import #\(request.id) (\(name), \(request.tenant)): \(name) has not answered for more than 24 hours (\(failure.message)). Retrying every \(ImportQuote.words(ms: timing.outageRetryMs)) until \(Self.day(deadline(request))); the ETA moves out.")
            }
            guard failingMs >= timing.outageSlowAfterMs else { throw failure }
            if Date() >= deadline(request) {
                if try await store.transition(request.id, from: [.validating, .waiting, .running, .stalled], to: .failed,
                                              error: "\(name) unavailable until the deadline: \(failure.message)") {
                    try await notify(request, kind: "platform_unavailable",
                                     message: "Import #\(request.id) (\(name), \(request.tenant)) failed: \(name) did not answer for \(ImportQuote.words(ms: failingMs)), past the request's deadline \(Self.day(deadline(request))) (\(failure.message)). Create the request again once \(name) is back.")
                }
                throw JobFailure(.fatal, "\(failure.message); \(name) still failing at the request's deadline")
            }
            throw JobFailure(.unavailable(retryAfterMs: timing.outageRetryMs),
                             "\(failure.message); \(name) failing for \(ImportQuote.words(ms: failingMs)), retrying every \(ImportQuote.words(ms: timing.outageRetryMs))")
        }
    }

    /// When the request gives up on an unavailable platform: the end of its requested completion
    /// day, or `giveUpDays` after it was created.
    func deadline(_ request: ImportRequest) -> Date {
        if let day = request.requestedCompletion.flatMap(NewImportRequest.day) { return day.addingTimeInterval(86_400) }
        return request.createdAt.addingTimeInterval(Double(timing.giveUpDays) * 86_400)
    }

    /// "2026-12-01" (UTC).
    static func day(_ date: Date) -> String {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withFullDate]
        return iso.string(from: date)
    }

    func validate(_ context: JobContext) async throws {
        guard let (_, request) = try await load(context), request.state == .validating else { return }
        let platform = try catalog.platform(request.platform)
        let (from, to) = range(request)
        let count: Int?
        do {
            let connector = try await connector(for: request)
            count = try await platformCall(request) { try await connector.countCalls(from: from, to: to) }
        } catch let failure as JobFailure where failure.code == .fatal {
            if try await store.transition(request.id, from: [.validating], to: .failed, error: "invalid credentials: \(failure.message)") {
                try await notify(request, kind: "invalid_credentials",
                                         message: "Import #\(request.id) (\(platform.name), \(request.tenant)): \(platform.name) rejected the credentials. Ask the customer for new ones and create the request again.")
            }
            return
        }
        if count == 0 {
            if try await store.transition(request.id, from: [.validating], to: .noCalls, total: 0) {
                try await notify(request, kind: "no_calls",
                                         message: "Import #\(request.id) (\(platform.name), \(request.tenant)): no calls between \(request.fromDate) and \(request.toDate). Confirm the date range with the customer.")
            }
            return
        }
        let now = Date()
        // Platforms without a count (Fathom, Grain) are planned on the estimate until the listing ends.
        let quote = try ImportQuote(platform: platform, calls: count ?? max(1, request.estimatedCalls),
                                    nightWindow: request.urgency.isUrgent ? nil : nightWindow, listingChains: chains(request).count,
                                    learned: try await queue.learnedRate(key: limitKey(request)))
        let eta = now.addingTimeInterval(Double(quote.durationMs(startingAt: now)) / 1000)
        let runNow = request.urgency.isUrgent || nightWindow.contains(now)
        guard try await store.transition(request.id, from: [.validating], to: runNow ? .running : .waiting, total: count, eta: eta) else { return }
        let delay = runNow ? 0 : max(1000, Int(nightWindow.nextOpening(after: now).timeIntervalSince(now) * 1000))
        let chains = chains(request)
        try await store.setListingChains(request.id, chains.count)
        for chain in chains { try await enqueue(.page, for: request, chain: chain, delayMs: delay) }
        logger.info("import validated", metadata: ["request": "\(request.id)", "calls": "\(count.map(String.init) ?? "unknown")", "eta": "\(eta)"])
    }

    func page(_ context: JobContext) async throws {
        guard let (payload, request) = try await load(context) else { return }
        if try await deferredToNight(.page, request, payload: payload) { return }
        try await store.transition(request.id, from: [.waiting], to: .running)
        let iso = ISO8601DateFormatter()
        let whole = range(request)
        let chain = (from: payload.from.flatMap(iso.date(from:)) ?? whole.0, to: payload.to.flatMap(iso.date(from:)) ?? whole.1)
        let pageKey = "\(iso.string(from: chain.from))|\(payload.cursor ?? "")"
        if let stored = try await store.storedPage(request.id, cursor: pageKey) {
            // A replay, or a resumed chain walking its stored pages to where it stopped.
            if !stored.last, let next = stored.next { try await enqueue(.page, for: request, cursor: next, chain: chain) }
            return
        }
        let connector = try await connector(for: request)
        let page = try await platformCall(request) { try await connector.page(from: chain.from, to: chain.to, cursor: payload.cursor) }
        try await store.store(page.calls, for: request)
        if connector.transcriptBatchSize > 0 {
            let ids = page.calls.map(\.externalId)
            for start in stride(from: 0, to: ids.count, by: connector.transcriptBatchSize) {
                try await enqueue(.transcripts, for: request, ids: Array(ids[start..<min(start + connector.transcriptBatchSize, ids.count)]))
            }
        }
        if let next = page.nextCursor { try await enqueue(.page, for: request, cursor: next, chain: chain) }
        try await store.markPage(request.id, cursor: pageKey, calls: page.calls.count, last: page.nextCursor == nil, next: page.nextCursor)
        try await finishIfDone(request)
    }

    func transcripts(_ context: JobContext) async throws {
        guard let (payload, request) = try await load(context), let ids = payload.ids, !ids.isEmpty else { return }
        if try await deferredToNight(.transcripts, request, payload: payload) { return }
        let missing = try await store.incomplete(ids, for: request)
        if !missing.isEmpty {
            let (from, to) = range(request)
            let connector = try await connector(for: request)
            let found = try await platformCall(request) { try await connector.transcripts(from: from, to: to, callIds: missing) }
            try await store.storeTranscripts(found, requested: missing, for: request)
        }
        try await finishIfDone(request)
    }

    func finishIfDone(_ request: ImportRequest) async throws {
        let progress = try await store.refreshProgress(request.id)
        let current = try await store.request(request.id)
        if progress.finished == nil, !current.state.isFinished { try await refreshEta(current, listed: progress.listed) }
        let labels = [("request", String(request.id)), ("tenant", request.tenant), ("platform", request.platform)]
        Gauge(label: "switchboard_import_calls", dimensions: labels + [("state", "done")]).record(current.doneCalls)
        Gauge(label: "switchboard_import_calls", dimensions: labels + [("state", "failed")]).record(current.failedCalls)
        Gauge(label: "switchboard_import_calls", dimensions: labels + [("state", "remaining")]).record(current.remainingCalls)
        // The finishing call notifies; any later call for a finished request notifies again, which
        // records nothing twice (one event per kind) but repairs a crash between the two steps.
        guard let state = progress.finished ?? ([.completed, .completedWithFailures].contains(current.state) ? current.state : nil) else { return }
        let finished = current
        let name = (try? catalog.platform(request.platform).name) ?? request.platform
        if state == .completed {
            try await notify(finished, kind: "completed",
                                     message: "Import #\(request.id) (\(name), \(request.tenant)) completed: \(finished.doneCalls) calls imported.")
        } else {
            try await notify(finished, kind: "completed_with_failures",
                                     message: "Import #\(request.id) (\(name), \(request.tenant)) completed with failures: \(finished.doneCalls) imported, \(finished.failedCalls) failed. Retry them with: switchboard import retry-failed \(request.id)")
        }
        logger.info("import finished", metadata: ["request": "\(request.id)", "state": "\(state.rawValue)"])
    }
}
