import Foundation
import Queue

/// Keeping a running request honest: its ETA follows the rate the platform really allows, CS
/// hears when the timeline moves past the requested completion date, and a request whose jobs
/// died or stopped making progress becomes `stalled` (with a notice) until `import resume`.
extension ImportPipeline {
    /// Re-plans the rest of an urgent running request at the pace its key runs at now (learned
    /// from the platform's 429s, or documented); tells CS once when the ETA passes the requested
    /// completion date.
    func refreshEta(_ request: ImportRequest, listed: Int) async throws {
        var eta = request.eta
        var learned: LearnedRate?
        if request.urgency.isUrgent, request.state == .running, let platform = try? catalog.platform(request.platform) {
            learned = try await queue.learnedRate(key: limitKey(request))
            let pacing = learned.map { $0.pacing(documented: platform.pacing) } ?? platform.pacing
            let total = request.totalCalls ?? max(request.estimatedCalls, listed)
            let ms = ImportQuote.remainingMs(platform: platform, pacing: pacing, unlisted: total - listed, unfinished: request.remainingCalls)
            let planned = Date().addingTimeInterval(Double(ms) / 1000)
            if try await store.setEta(request.id, planned) { eta = planned }
        }
        if let eta, let wanted = request.requestedCompletion.flatMap(NewImportRequest.day)?.addingTimeInterval(86_400), eta > wanted {
            let name = (try? catalog.platform(request.platform).name) ?? request.platform
            try await notify(request, kind: "timeline_extended",
                             message: "Import #\(request.id) (\(name), \(request.tenant)): the timeline moved past the requested completion date \(request.requestedCompletion ?? ""): now expected \(Self.day(eta)) (\(ISO8601DateFormatter().string(from: eta)))\(learned.map { ": \(name) allows this account \($0.summary)" } ?? ""). Tell the customer.")
        }
    }

    /// The watch (a cron job): marks stalled every open request with a dead job, and every running
    /// request that stored nothing for `timing.stallAfterMs` while its platform answered; CS hears
    /// of each once. Returns the ids it marked.
    public func watch() async throws -> [Int] {
        var stalled: [Int] = []
        var deadByRequest: [Int: DeadJob] = [:]
        for (request, job) in try await deadWork() where deadByRequest[request] == nil { deadByRequest[request] = job }
        for (id, job) in deadByRequest.sorted(by: { $0.key < $1.key }) {
            guard let request = try? await store.request(id), [.validating, .running].contains(request.state) else { continue }
            if try await stall(request, reason: "its \(job.type) job died after \(job.attempts) attempts: \(job.error)") { stalled.append(id) }
        }
        let now = Date()
        let nightOpenLongEnough = nightWindow.contains(now) && nightWindow.contains(now.addingTimeInterval(-Double(timing.stallAfterMs) / 1000))
        for id in try await store.quietRequests(forMs: timing.stallAfterMs) where !stalled.contains(id) {
            guard let request = try? await store.request(id), [.validating, .running].contains(request.state) else { continue }
            // A standard request only works inside the night window: quiet outside it is expected.
            if !request.urgency.isUrgent && !nightOpenLongEnough { continue }
            let minutes = timing.stallAfterMs / 60_000
            var reason = "nothing stored for \(minutes) min while \(request.platform) answered"
            switch try await queue.pause(of: limitKey(request)) {
            case .manual?: continue // an operator paused the account on purpose
            case .until(let ms)? where ms - Int(now.timeIntervalSince1970 * 1000) < timing.stallAfterMs: continue // a short wait
            case .until(let ms)?:
                let until = Date(timeIntervalSince1970: Double(ms) / 1000)
                reason = "\(request.platform) asked us to wait until \(ISO8601DateFormatter().string(from: until)) (Retry-After), nothing stored for \(minutes) min"
            case nil: break
            }
            if try await stall(request, reason: reason) { stalled.append(id) }
        }
        return stalled
    }

    /// The dead jobs that did a request's work (validate, page, transcripts), newest 1,000 first, with their request.
    func deadWork() async throws -> [(request: Int, job: DeadJob)] {
        let work: Set<String> = [Step.validate.rawValue, Step.page.rawValue, Step.transcripts.rawValue]
        return try await queue.deadJobs(limit: 1000).compactMap { job in
            guard work.contains(job.type), let payload = try? JSONDecoder().decode(Payload.self, from: Data(job.payload.utf8)) else { return nil }
            return (payload.request, job)
        }
    }

    func stall(_ request: ImportRequest, reason: String) async throws -> Bool {
        guard try await store.markStalled(request.id, reason: reason) else { return false }
        let name = (try? catalog.platform(request.platform).name) ?? request.platform
        logger.warning("import stalled", metadata: ["request": "\(request.id)", "reason": "\(reason)"])
        try await notify(request, kind: "stalled",
                         message: "Import #\(request.id) (\(name), \(request.tenant)) stalled: \(reason). Once the cause is fixed, resume it with: switchboard import resume \(request.id)")
        return true
    }

    /// What `resume` put back to work.
    public struct Resumed: Sendable, Codable, Equatable {
        public let request: Int
        public let state: ImportState
        public let deadJobsRetried: Int
        public let chainsRestarted: Int
        public let transcriptJobs: Int
    }

    /// Restarts a stalled request where it stopped: its dead jobs go back to work, every listing
    /// chain that has not reached its last page walks its stored pages to where it stopped, and
    /// the listed calls still missing a transcript are fetched again. Nothing is stored twice.
    public func resume(_ id: Int) async throws -> Resumed {
        let request = try await store.request(id)
        guard request.state == .stalled else {
            throw ImportError(.conflict, "import request \(id) is \(request.state.rawValue): only a stalled request can be resumed")
        }
        var retried = 0
        for (request, job) in try await deadWork() where request == id { retried += try await queue.retryDead(id: job.id) }
        let validated = request.eta != nil
        guard try await store.resumeStalled(id, to: validated ? .running : .validating) else {
            throw ImportError(.conflict, "import request \(id) changed while resuming; look again")
        }
        let current = try await store.request(id)
        guard validated else {
            try await enqueue(.validate, for: current)
            return Resumed(request: id, state: .validating, deadJobsRetried: retried, chainsRestarted: 0, transcriptJobs: 0)
        }
        let finishedChains = try await store.finishedChains(id)
        let iso = ISO8601DateFormatter()
        var restarted = 0
        for chain in chains(current) where !finishedChains.contains(iso.string(from: chain.from)) {
            try await enqueue(.page, for: current, chain: chain)
            restarted += 1
        }
        var transcriptJobs = 0
        let batch = try connectors.connector(platform: current.platform, credentials: [:]).transcriptBatchSize
        if batch > 0 {
            let missing = try await store.untranscribed(id)
            for start in stride(from: 0, to: missing.count, by: batch) {
                try await enqueue(.transcripts, for: current, ids: Array(missing[start..<min(start + batch, missing.count)]))
                transcriptJobs += 1
            }
        }
        try await finishIfDone(current)
        logger.info("import resumed", metadata: ["request": "\(id)", "dead_retried": "\(retried)", "chains": "\(restarted)", "transcript_jobs": "\(transcriptJobs)"])
        return Resumed(request: id, state: try await store.request(id).state, deadJobsRetried: retried, chainsRestarted: restarted,
                       transcriptJobs: transcriptJobs)
    }
}
