import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// How a worker runs one queue.
public struct QueueWorkerConfiguration: Sendable {
    /// Handlers running at once in this process.
    public var concurrency: Int
    /// Most jobs claimed ahead of free handlers. The worker holds only as many as cover one claim
    /// round trip at the measured job duration (so slow jobs are not hoarded by one process), up
    /// to this cap. Jobs of rate-limited keys are never prefetched: their budget is spent at the claim.
    public var prefetch: Int
    /// How long a claimed job stays ours without a heartbeat; a dead worker's jobs return after it.
    public var leaseMs: Int
    /// Longest idle wait before looking at the queue again (new work wakes the worker sooner).
    public var pollMs: Int
    /// On SIGTERM, how long in-flight jobs may finish before they are handed back.
    public var drainTimeoutMs: Int
    /// How often expired leases are reclaimed and depth gauges refreshed.
    public var maintenanceMs: Int
    /// A job whose worker was lost this many times while holding it goes to the dead set as
    /// "crashed its worker" instead of being handed to the next one (a prefetched job counts too,
    /// so the limit leaves room for unlucky kills).
    public var crashLimit: Int

    public init(concurrency: Int = 10, prefetch: Int? = nil, leaseMs: Int = 15_000, pollMs: Int = 1000,
                drainTimeoutMs: Int = 10_000, maintenanceMs: Int = 1000, crashLimit: Int = 5) {
        self.crashLimit = max(1, crashLimit)
        self.concurrency = max(1, concurrency)
        self.prefetch = max(0, prefetch ?? 50 * concurrency)
        self.leaseMs = max(500, leaseMs)
        self.pollMs = max(10, pollMs)
        self.drainTimeoutMs = max(0, drainTimeoutMs)
        self.maintenanceMs = max(50, maintenanceMs)
    }
}

/// Runs the handlers of one queue: claims in batches, runs up to `concurrency` jobs, renews their
/// leases, acknowledges in batches, reclaims jobs of dead workers, and drains on SIGTERM (stop
/// claiming, hand prefetched jobs back, let running jobs finish until the deadline, hand the rest
/// back at once).
public final class QueueWorker: Service {
    public let queue: JobQueue
    public let registry: JobRegistry
    public let configuration: QueueWorkerConfiguration
    private let logger: Logger
    private let metrics: QueueMetrics
    private let completions = Mailbox<Completion>()
    private let state = NIOLockedValueBox(DispatchState())
    private let stopped = StopFlag()

    /// Jobs held by this process: prefetched (`buffer`) or running, and the runner tasks.
    private struct DispatchState {
        var buffer: [ClaimedJob] = []
        var held: [String: ClaimedJob] = [:]
        var runners: [Int: Task<Void, Never>] = [:]
        var nextRunner = 0
        var stopping = false
        /// Set when the queue has rate-limited work but no handler was free: claim again only once one is.
        var needsFreeHandler = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Moving averages (ns) of one job's run time and one claim's round trip.
        var averageRunNs = 1_000_000.0
        var averageClaimNs = 200_000.0

        /// Jobs to hold beyond the running ones: enough to keep every slot busy during a claim.
        func prefetchTarget(concurrency: Int, cap: Int) -> Int {
            let perSlot = (averageClaimNs / max(averageRunNs, 1)).rounded(.up)
            return Int(min(Double(cap), 2 * Double(concurrency) * perSlot))
        }

        mutating func wakeFetcher() -> CheckedContinuation<Void, Never>? {
            defer { waiter = nil }
            return waiter
        }
    }

    private enum Completion: Sendable {
        case ack(ClaimedJob)
        case fail(id: String, token: String, outcome: FailureOutcome, delayMs: Int, message: String)
    }

    public init(queue: JobQueue, registry: JobRegistry, configuration: QueueWorkerConfiguration = .init(),
                logger: Logger = Logger(label: "switchboard.queue")) {
        self.queue = queue
        self.registry = registry
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "queue"] = "\(queue.name)"
        self.logger = logger
        self.metrics = QueueMetrics(queue: queue.name)
    }

    /// Runs until graceful shutdown (SIGTERM through the ServiceGroup), then drains.
    public func run() async throws {
        // Cancelled (an in-process app torn down) is treated as a drain: without this, every
        // sleep would throw at once and the loops would spin.
        await withTaskCancellationHandler { await runUntilStopped() } onCancel: { self.stop() }
    }

    private func runUntilStopped() async {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.acknowledgeLoop() }
                group.addTask { await self.everyInterval(self.configuration.leaseMs / 3) { await self.heartbeat() } }
                group.addTask { await self.everyInterval(self.configuration.maintenanceMs) { await self.maintain() } }
                await self.fetchLoop()
                await self.drain()
                self.stopped.set()
                self.completions.close()
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.logger.info("draining")
            self.stop()
        }
    }

    /// Asks the worker to drain and stop (what SIGTERM does through the ServiceGroup).
    public func stop() {
        state.withLockedValue { s in
            s.stopping = true
            return s.wakeFetcher()
        }?.resume()
    }

    // MARK: Fetching and running

    /// What the next claim should ask for, or nil when the process holds enough.
    private func claimSize(_ s: DispatchState) -> (want: Int, startable: Int)? {
        let prefetch = s.prefetchTarget(concurrency: configuration.concurrency, cap: configuration.prefetch)
        let capacity = configuration.concurrency + prefetch
        let startable = max(0, configuration.concurrency - s.runners.count - s.buffer.count)
        guard s.buffer.count <= prefetch / 2, s.held.count < capacity, !s.needsFreeHandler || startable > 0 else { return nil }
        return (capacity - s.held.count, startable)
    }

    private func fetchLoop() async {
        var errorDelayMs = 50
        while true {
            guard let size = await nextClaimSize() else { return }
            do {
                let started = ContinuousClock.now
                let batch = try await queue.claim(max: size.want, leaseMs: configuration.leaseMs, maxRateLimited: size.startable)
                let took = (ContinuousClock.now - started).nanoseconds
                state.withLockedValue {
                    $0.averageClaimNs = 0.9 * $0.averageClaimNs + 0.1 * took
                    $0.needsFreeHandler = batch.jobs.isEmpty && batch.retryAfterMs < 0
                }
                errorDelayMs = 50
                if batch.jobs.isEmpty {
                    if batch.retryAfterMs < 0 {
                        continue // nextClaimSize waits for a handler to finish
                    } else if batch.retryAfterMs <= configuration.pollMs + 200 {
                        // A key's budget or a delayed job is due at a known moment: sleep exactly until
                        // then. (Redis times blocking calls out only on its ~100 ms cron tick, so a
                        // BLPOP timeout would be up to 100 ms late.)
                        try await Task.sleep(for: .milliseconds(max(1, batch.retryAfterMs)))
                    } else {
                        try await queue.waitForWork(timeoutMs: configuration.pollMs)
                    }
                    continue
                }
                dispatch(batch.jobs)
            } catch {
                logger.error("claim failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(errorDelayMs))
                errorDelayMs = min(errorDelayMs * 2, 2000)
            }
        }
    }

    /// Waits until the process should claim more; nil once it is stopping.
    private func nextClaimSize() async -> (want: Int, startable: Int)? {
        while true {
            enum Next { case stop, claim(Int, Int), wait }
            let next = state.withLockedValue { s -> Next in
                if s.stopping { return .stop }
                if let size = claimSize(s) { return .claim(size.want, size.startable) }
                return .wait
            }
            switch next {
            case .stop: return nil
            case .claim(let want, let startable): return (want, startable)
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let now = state.withLockedValue { s -> Bool in
                        if s.stopping || claimSize(s) != nil { return true }
                        s.waiter = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
        }
    }

    /// Adds claimed jobs to the buffer (rate-limited ones first) and starts runners for free slots.
    private func dispatch(_ jobs: [ClaimedJob]) {
        state.withLockedValue { s in
            for job in jobs { s.held[job.id] = job }
            s.buffer.insert(contentsOf: jobs.filter(\.rateLimited), at: 0)
            s.buffer.append(contentsOf: jobs.filter { !$0.rateLimited })
            while s.runners.count < configuration.concurrency, !s.buffer.isEmpty {
                let first = s.buffer.removeFirst()
                let id = s.nextRunner
                s.nextRunner += 1
                s.runners[id] = Task { await self.runner(id, first: first) }
            }
            metrics.inFlight.record(s.runners.count)
        }
    }

    /// One handler slot: runs jobs from the buffer until it is empty.
    private func runner(_ runnerId: Int, first: ClaimedJob) async {
        var next: ClaimedJob? = first
        while let job = next {
            let started = ContinuousClock.now
            let completion = await execute(job)
            let ranNs = (ContinuousClock.now - started).nanoseconds
            let (stillOurs, following, waiter) = state.withLockedValue { s -> (Bool, ClaimedJob?, CheckedContinuation<Void, Never>?) in
                s.averageRunNs = 0.9 * s.averageRunNs + 0.1 * ranNs
                let ours = s.held.removeValue(forKey: job.id) != nil
                var following: ClaimedJob?
                if !s.stopping, !s.buffer.isEmpty { following = s.buffer.removeFirst() } else { s.runners[runnerId] = nil }
                return (ours, following, claimSize(s) != nil ? s.wakeFetcher() : nil)
            }
            if stillOurs, let completion { completions.push(completion) }
            waiter?.resume()
            next = following
        }
    }

    private func execute(_ job: ClaimedJob) async -> Completion? {
        let typeMetrics = metrics.forType(job.type)
        typeMetrics.waitTime.recordMilliseconds(max(0, job.claimedAtMs - job.enqueuedAtMs))
        guard let definition = registry.definitions[job.type] else {
            typeMetrics.dead.increment()
            return .fail(id: job.id, token: job.token, outcome: .fatal, delayMs: 0, message: "no handler for job type '\(job.type)'")
        }
        let started = ContinuousClock.now
        defer { typeMetrics.runTime.record(duration: ContinuousClock.now - started) }
        do {
            let context = JobContext(job: job, queue: queue)
            if let timeoutMs = definition.timeoutMs {
                try await Self.withTimeout(ms: timeoutMs) { try await definition.handler(context) }
            } else {
                try await definition.handler(context)
            }
            typeMetrics.processed.increment()
            return .ack(job)
        } catch let failure as JobFailure {
            switch failure.code {
            case .fatal:
                typeMetrics.failed.increment()
                typeMetrics.dead.increment()
                logger.warning("job failed for good", metadata: ["job": "\(job.id)", "type": "\(job.type)", "error": "\(failure.message)"])
                return .fail(id: job.id, token: job.token, outcome: .fatal, delayMs: 0, message: failure.message)
            case .rateLimited(let retryAfterMs):
                typeMetrics.rateLimited.increment()
                metrics.rateLimitWaits.increment()
                logger.info("key rate limited by vendor", metadata: ["key": "\(job.key)", "retry_after_ms": "\(retryAfterMs)"])
                return .fail(id: job.id, token: job.token, outcome: .rateLimited, delayMs: retryAfterMs, message: failure.message)
            case .unavailable(let retryAfterMs):
                typeMetrics.failed.increment()
                logger.info("key paused: vendor unavailable", metadata: ["key": "\(job.key)", "retry_after_ms": "\(retryAfterMs)"])
                return .fail(id: job.id, token: job.token, outcome: .unavailable, delayMs: retryAfterMs, message: failure.message)
            case .retryable:
                return retry(job, definition, failure.message, typeMetrics)
            }
        } catch is CancellationError {
            return nil // handed back by drain already
        } catch {
            return retry(job, definition, "\(error)", typeMetrics)
        }
    }

    private func retry(_ job: ClaimedJob, _ definition: JobDefinition, _ message: String, _ typeMetrics: QueueMetrics.PerType) -> Completion {
        typeMetrics.failed.increment()
        typeMetrics.retried.increment()
        logger.info("job attempt failed, will retry", metadata: ["job": "\(job.id)", "type": "\(job.type)", "attempt": "\(job.attempt)", "error": "\(message)"])
        return .fail(id: job.id, token: job.token, outcome: .retry, delayMs: definition.backoff.delayMs(attempt: job.attempt), message: message)
    }

    private static func withTimeout(ms: Int, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await body(); return true }
            group.addTask { try await Task.sleep(for: .milliseconds(ms)); return false }
            let finished = try await group.next() ?? false
            group.cancelAll()
            if !finished { throw JobFailure(.retryable, "attempt timed out after \(ms) ms") }
        }
    }

    // MARK: Acknowledging, heartbeats, maintenance, drain

    private func acknowledgeLoop() async {
        while true {
            let items = await completions.takeAll()
            if items.isEmpty { return }
            var acks: [ClaimedJob] = []
            for item in items {
                switch item {
                case .ack(let job):
                    acks.append(job)
                case .fail(let id, let token, let outcome, let delayMs, let message):
                    await persistently("record failure") {
                        let state = try await self.queue.fail(id: id, token: token, outcome: outcome, delayMs: delayMs, message: message)
                        if state == "dead" { self.logger.warning("job moved to the dead set", metadata: ["job": "\(id)"]) }
                    }
                }
            }
            if !acks.isEmpty {
                let batch = acks
                await persistently("acknowledge") { _ = try await self.queue.ack(batch) }
            }
        }
    }

    /// Retries a Redis write until it lands; gives up only once the worker has stopped and the
    /// lease would have expired anyway (the job is then redelivered: at-least-once).
    private func persistently(_ what: String, _ body: @escaping @Sendable () async throws -> Void) async {
        var delayMs = 50
        let giveUp = ContinuousClock.now + .milliseconds(configuration.leaseMs)
        while true {
            do { return try await body() } catch {
                logger.error("\(what) failed, retrying", metadata: ["error": "\(error)"])
                if stopped.isSet && ContinuousClock.now > giveUp { return }
                try? await Task.sleep(for: .milliseconds(delayMs))
                delayMs = min(delayMs * 2, 1000)
            }
        }
    }

    private func heartbeat() async {
        let held = state.withLockedValue { $0.held.values.map { (id: $0.id, token: $0.token) } }
        guard !held.isEmpty else { return }
        do {
            let lost = try await queue.extend(held, leaseMs: configuration.leaseMs)
            if !lost.isEmpty { logger.warning("lost leases (jobs reclaimed elsewhere)", metadata: ["jobs": "\(lost)"]) }
        } catch {
            logger.error("heartbeat failed", metadata: ["error": "\(error)"])
        }
    }

    private func maintain() async {
        metrics.inFlight.record(state.withLockedValue { $0.runners.count })
        do {
            let reclaimed = try await queue.reclaimExpired(crashLimit: configuration.crashLimit)
            if reclaimed > 0 { logger.warning("reclaimed jobs of a lost worker", metadata: ["count": "\(reclaimed)"]) }
            metrics.record(try await queue.stats())
        } catch {
            logger.error("maintenance failed", metadata: ["error": "\(error)"])
        }
    }

    private func everyInterval(_ ms: Int, _ body: @Sendable () async -> Void) async {
        while !stopped.isSet && !Task.isCancelled {
            var waited = 0
            while waited < ms && !stopped.isSet {
                if Task.isCancelled { return }
                try? await Task.sleep(for: .milliseconds(min(100, ms)))
                waited += min(100, ms)
            }
            if stopped.isSet { return }
            await body()
        }
    }

    private func drain() async {
        let prefetched = state.withLockedValue { s -> [ClaimedJob] in
            defer { s.buffer = [] }
            for job in s.buffer { s.held[job.id] = nil }
            return s.buffer
        }
        if !prefetched.isEmpty {
            await persistently("release prefetched") { _ = try await self.queue.release(prefetched.map { ($0.id, $0.token) }) }
        }
        let deadline = ContinuousClock.now + .milliseconds(configuration.drainTimeoutMs)
        while ContinuousClock.now < deadline, !state.withLockedValue({ $0.runners.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let (leftover, runners) = state.withLockedValue { s -> ([ClaimedJob], [Task<Void, Never>]) in
            defer { s.held = [:]; s.runners = [:] }
            return (Array(s.held.values), Array(s.runners.values))
        }
        guard !leftover.isEmpty else { return }
        logger.warning("drain deadline passed, handing jobs back", metadata: ["count": "\(leftover.count)"])
        await persistently("release") { _ = try await self.queue.release(leftover.map { ($0.id, $0.token) }) }
        runners.forEach { $0.cancel() }
    }
}
