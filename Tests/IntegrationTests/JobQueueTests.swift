import Foundation
import Queue
import Redis
import Testing

/// The queue's semantics, driven call by call against the real Redis.
@Suite(.needsServers) struct JobQueueTests {
    let redis = TestServers.redis()

    func withQueue(_ body: (JobQueue) async throws -> Void) async throws {
        let queue = try TestServers.queue(redis: redis)
        try await body(queue)
        try await TestServers.cleanup(prefix: queue.prefix, redis: redis)
    }

    @Test func completedJobsLeaveOnlyCounters() async throws {
        try await withQueue { q in
            try await q.enqueue([NewJob(type: "a", payload: #"{"n":1}"#), NewJob(type: "b"), NewJob(type: "c", key: "gong:t1")])
            let batch = try await q.claim(max: 10, leaseMs: 5000)
            #expect(batch.jobs.map(\.type).sorted() == ["a", "b", "c"])
            #expect(batch.jobs.first { $0.type == "a" }?.payload == #"{"n":1}"#)
            #expect(batch.jobs.allSatisfy { $0.attempt == 1 })
            #expect(try await q.ack(batch.jobs) == 3)
            let stats = try await q.stats()
            #expect((stats.ready, stats.active, stats.delayed, stats.dead) == (0, 0, 0, 0))
            #expect(stats.counters["processed"] == 3)
            let left = try await TestServers.keys(prefix: q.prefix, redis: redis).map { String($0.dropFirst(q.base.count + 1)) }
            #expect(Set(left).isSubset(of: ["seq", "stats", "wake"]), "left behind: \(left)")
        }
    }

    @Test func priorityThenAgeWithinAKey() async throws {
        try await withQueue { q in
            try await q.enqueue([NewJob(type: "low1", priority: 1), NewJob(type: "high", priority: 9), NewJob(type: "low2", priority: 1), NewJob(type: "mid", priority: 5)])
            let order = try await q.claim(max: 10, leaseMs: 5000).jobs.map(\.type)
            #expect(order == ["high", "mid", "low1", "low2"])
        }
    }

    @Test func uniqueKeyAllowsOneCopyWhilePendingOrRunning() async throws {
        try await withQueue { q in
            let first = try await q.enqueue(NewJob(type: "x", uniqueKey: "refresh:42"))
            #expect(try await q.enqueue(NewJob(type: "x", uniqueKey: "refresh:42")) == .duplicate(existingId: first.id))
            let job = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
            #expect(try await q.enqueue(NewJob(type: "x", uniqueKey: "refresh:42")) == .duplicate(existingId: first.id))
            try await q.ack([job])
            guard case .created = try await q.enqueue(NewJob(type: "x", uniqueKey: "refresh:42")) else {
                Issue.record("a finished job still blocked its unique key"); return
            }
        }
    }

    @Test func delayedJobsWaitForTheirTime() async throws {
        try await withQueue { q in
            // A minute's delay: however slow the machine, it is not due at the next claim.
            try await q.enqueue(NewJob(type: "much-later", delayMs: 60_000))
            let early = try await q.claim(max: 5, leaseMs: 5000)
            #expect(early.jobs.isEmpty)
            #expect(early.retryAfterMs > 0 && early.retryAfterMs <= 60_000)
            #expect(try await q.stats().delayed == 1)
            // A short delay comes due, and only that job is handed out.
            try await q.enqueue(NewJob(type: "later", delayMs: 300))
            var claimed: [String] = []
            _ = try await TestServers.eventually(10) {
                claimed += try await q.claim(max: 5, leaseMs: 5000).jobs.map(\.type)
                return !claimed.isEmpty
            }
            #expect(claimed == ["later"])
            #expect(try await q.stats().delayed == 1)
        }
    }

    @Test func retriesThenDeadLetterThenRetryAndPurge() async throws {
        try await withQueue { q in
            try await q.enqueue(NewJob(type: "flaky", maxAttempts: 2))
            let first = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
            #expect(try await q.fail(id: first.id, token: first.token, outcome: .retry, delayMs: 0, message: "timeout") == "retry")
            let second = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
            #expect(second.attempt == 2)
            #expect(try await q.fail(id: second.id, token: second.token, outcome: .retry, delayMs: 0, message: "HTTP 503") == "dead")
            let dead = try await q.deadJobs()
            #expect(dead.map(\.id) == [first.id])
            #expect(dead.first?.error == "HTTP 503")
            #expect(dead.first?.attempts == 2)
            #expect(try await q.retryDead(id: first.id) == 1)
            let again = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
            #expect(again.attempt == 1)
            #expect(try await q.fail(id: again.id, token: again.token, outcome: .fatal, delayMs: 0, message: "HTTP 401") == "dead")
            #expect(try await q.purgeDead(id: nil) == 1)
            #expect(try await q.stats().dead == 0)
            #expect(try await q.jobFields(id: first.id).isEmpty)
        }
    }

    @Test func rateLimitedKeysWaitWhileOthersFlow() async throws {
        try await withQueue { q in
            try await q.setRateLimit(group: "gong", try RateLimit(parsing: "3/s"), marginMs: 0)
            try await q.enqueue((0..<10).map { _ in NewJob(type: "call", key: "gong:t1") } + (0..<5).map { _ in NewJob(type: "other", key: "fathom:t1") })
            let first = try await q.claim(max: 100, leaseMs: 5000).jobs
            #expect(first.filter { $0.key == "gong:t1" }.count == 3)
            #expect(first.filter { $0.key == "fathom:t1" }.count == 5)
            let blocked = try await q.claim(max: 100, leaseMs: 5000)
            #expect(blocked.jobs.isEmpty)
            #expect(blocked.retryAfterMs > 500 && blocked.retryAfterMs <= 1001)
            // The out-of-budget key is parked until its budget returns: no churn in between.
            let parkedUntil = try await redis.send(["ZSCORE", "\(q.base):keys", "gong:t1"]).int ?? 0
            #expect(parkedUntil > first[0].claimedAtMs + 900)
            try await Task.sleep(for: .milliseconds(1050))
            #expect(try await q.claim(max: 100, leaseMs: 5000).jobs.count == 3)
        }
    }

    @Test func rateLimitedJobsGoOnlyToFreeHandlers() async throws {
        try await withQueue { q in
            try await q.setRateLimit(group: "gong", try RateLimit(parsing: "10/s"), marginMs: 0)
            try await q.enqueue((0..<4).map { _ in NewJob(type: "call", key: "gong:t1") } + [NewJob(type: "free", key: "plain")])
            // No handler free: the unlimited job may be prefetched, the rate-limited ones may not.
            let prefetch = try await q.claim(max: 10, leaseMs: 5000, maxRateLimited: 0)
            #expect(prefetch.jobs.map(\.type) == ["free"])
            #expect(prefetch.jobs.filter(\.rateLimited).isEmpty)
            let none = try await q.claim(max: 10, leaseMs: 5000, maxRateLimited: 0)
            #expect(none.jobs.isEmpty)
            #expect(none.retryAfterMs == -1)
            let two = try await q.claim(max: 10, leaseMs: 5000, maxRateLimited: 2)
            #expect(two.jobs.count == 2)
            #expect(two.jobs.filter(\.rateLimited).count == 2)
        }
    }

    @Test func everyWindowOfALimitHolds() async throws {
        try await withQueue { q in
            try await q.setRateLimit(group: "g", try RateLimit(parsing: "2/200ms,3/5s"), marginMs: 0)
            try await q.enqueue((0..<10).map { _ in NewJob(type: "x", key: "g:1") })
            var claimed = 0
            for _ in 0..<8 {
                claimed += try await q.claim(max: 10, leaseMs: 5000).jobs.count
                try await Task.sleep(for: .milliseconds(110))
            }
            #expect(claimed == 3)
        }
    }

    @Test func concurrencyLimitCapsRunningJobsPerKey() async throws {
        try await withQueue { q in
            try await q.setConcurrencyLimit(group: "c", 2)
            try await q.enqueue((0..<5).map { _ in NewJob(type: "x", key: "c:1") } + [NewJob(type: "y", key: "d:1")])
            let first = try await q.claim(max: 10, leaseMs: 5000).jobs
            #expect(first.filter { $0.key == "c:1" }.count == 2)
            #expect(first.filter { $0.key == "d:1" }.count == 1)
            #expect(try await q.claim(max: 10, leaseMs: 5000).jobs.isEmpty)
            let done = try #require(first.first { $0.key == "c:1" })
            try await q.ack([done])
            #expect(try await q.claim(max: 10, leaseMs: 5000).jobs.count == 1)
        }
    }

    @Test func pausedKeyLeavesOtherKeysFlowing() async throws {
        try await withQueue { q in
            try await q.pause(key: "gong:t1")
            try await q.enqueue([NewJob(type: "a", key: "gong:t1"), NewJob(type: "b", key: "gong:t2")])
            #expect(try await q.claim(max: 10, leaseMs: 5000).jobs.map(\.key) == ["gong:t2"])
            #expect(try await q.claim(max: 10, leaseMs: 5000).jobs.isEmpty)
            try await q.resume(key: "gong:t1")
            #expect(try await q.claim(max: 10, leaseMs: 5000).jobs.map(\.key) == ["gong:t1"])

            try await q.pause()
            try await q.enqueue(NewJob(type: "c"))
            #expect(try await q.claim(max: 10, leaseMs: 5000).jobs.isEmpty)
            #expect(try await q.stats().paused)
            try await q.resume()
            #expect(try await q.claim(max: 10, leaseMs: 5000).jobs.map(\.type) == ["c"])
        }
    }

    @Test func vendor429PausesTheKeyAndCostsNoAttempt() async throws {
        try await withQueue { q in
            try await q.enqueue([NewJob(type: "a", key: "gong:t1", maxAttempts: 1), NewJob(type: "b", key: "gong:t1"), NewJob(type: "c", key: "zoom:t1")])
            let jobs = try await q.claim(max: 1, leaseMs: 5000).jobs
            let a = try #require(jobs.first)
            #expect(try await q.fail(id: a.id, token: a.token, outcome: .rateLimited, delayMs: 600, message: "429") == "paused")
            // The whole key waits (fleet-wide: the pause lives in Redis); other keys do not.
            #expect(try await q.claim(max: 10, leaseMs: 5000).jobs.map(\.key) == ["zoom:t1"])
            try await Task.sleep(for: .milliseconds(650))
            let resumed = try await q.claim(max: 10, leaseMs: 5000).jobs
            #expect(resumed.map(\.type) == ["a", "b"])
            // maxAttempts 1, yet the job is still alive and on attempt 1: the 429 cost nothing.
            #expect(resumed.first?.attempt == 1)
            #expect(try await q.stats().counters["ratelimited"] == 1)
        }
    }

    @Test func a429BelowTheDocumentedLimitTeachesTheKeyALowerPacedRate() async throws {
        try await withQueue { q in
            try await q.setRateLimit(group: "gong", RateLimit([RateWindow(limit: 10, windowMs: 1000)]), marginMs: 0)
            try await q.enqueue((0..<30).map { _ in NewJob(type: "page", key: "gong:t1") } + [NewJob(type: "other", key: "gong:t2")])
            let burst = try await q.claim(max: 10, leaseMs: 5000).jobs
            #expect(burst.count == 10)
            #expect(try await q.learnedRate(key: "gong:t1") == nil)
            // The vendor accepted 9 of the 10 and refused one: the key learns 8.5/s (0.85 of the refused 10/s).
            let refused = burst.first { $0.key == "gong:t1" }!
            #expect(try await q.fail(id: refused.id, token: refused.token, outcome: .rateLimited, delayMs: 1, message: "429") == "paused")
            let learned = try #require(try await q.learnedRate(key: "gong:t1"))
            #expect(learned.documentedPerSecond == 10)
            #expect(learned.ceilingPerSecond == 10)
            #expect(learned.perSecond >= 8.5 && learned.perSecond < 9)
            // A second refusal of the same burst does not lower it again.
            let second = burst.last { $0.key == "gong:t1" }!
            _ = try await q.fail(id: second.id, token: second.token, outcome: .rateLimited, delayMs: 1, message: "429")
            #expect(try await q.learnedRate(key: "gong:t1")!.perSecond >= 8.5)
            // While learning, the key's claims are paced one at a time, 1000/rate ms apart.
            try await Task.sleep(for: .milliseconds(1100))
            let first = try await q.claim(max: 10, leaseMs: 5000).jobs
            let paced = first.filter { $0.key == "gong:t1" }
            #expect(paced.count == 1)
            // The next one comes no sooner than 1000/rate ms later (the test may be slower than that).
            let next = try await q.claim(max: 10, leaseMs: 5000)
            if let again = next.jobs.first(where: { $0.key == "gong:t1" }) {
                #expect(again.claimedAtMs - paced[0].claimedAtMs >= 1000 / 9)
            } else {
                #expect(next.retryAfterMs > 0 && next.retryAfterMs <= 120)
            }
            // Other keys of the group keep their documented limit; an outage pause teaches nothing.
            #expect(try await q.learnedRate(key: "gong:t2") == nil)
            let other = try #require(first.first { $0.key == "gong:t2" } ?? burst.first { $0.key == "gong:t2" })
            #expect(try await q.fail(id: other.id, token: other.token, outcome: .unavailable, delayMs: 1, message: "503") == "paused")
            #expect(try await q.learnedRate(key: "gong:t2") == nil)
            #expect(try await q.stats().counters["learned"] == 1)
            #expect(try await q.learnedRates().map(\.key) == ["gong:t1"])
            try await q.forgetLearnedRate(key: "gong:t1")
            #expect(try await q.learnedRates().isEmpty)
        }
    }

    @Test func expiredLeasesAreReclaimedAndStaleAcksIgnored() async throws {
        try await withQueue { q in
            try await q.enqueue(NewJob(type: "x"))
            let lost = try #require(try await q.claim(max: 1, leaseMs: 500).jobs.first)
            #expect(try await q.reclaimExpired() == 0)
            try await Task.sleep(for: .milliseconds(550))
            #expect(try await q.reclaimExpired() == 1)
            let again = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
            #expect(again.id == lost.id)
            #expect(again.attempt == 2)
            #expect(try await q.ack([lost]) == 0)
            #expect(try await q.extend([(lost.id, lost.token)], leaseMs: 5000) == [lost.id])
            #expect(try await q.ack([again]) == 1)
        }
    }

    @Test func aJobThatKeepsKillingItsWorkerIsDeadAfterTheCrashLimit() async throws {
        try await withQueue { q in
            try await q.enqueue(NewJob(type: "poison", maxAttempts: 25))
            for round in 1...3 {
                let claimed = try #require(try await q.claim(max: 1, leaseMs: 100).jobs.first, "round \(round)")
                #expect(claimed.attempt == round)
                try await Task.sleep(for: .milliseconds(150))
                #expect(try await q.reclaimExpired(crashLimit: 3) == 1)
            }
            // 22 attempts were left, yet the job is not handed to a fourth worker.
            #expect(try await q.claim(max: 1, leaseMs: 100).jobs.isEmpty)
            let dead = try await q.deadJobs()
            #expect(dead.count == 1)
            #expect(dead.first?.error.contains("crashed its worker 3 times") == true)
            #expect(try await q.stats().counters["crashed"] == 1)
        }
    }

    @Test func heartbeatsKeepTheLease() async throws {
        try await withQueue { q in
            try await q.enqueue(NewJob(type: "x"))
            let job = try #require(try await q.claim(max: 1, leaseMs: 500).jobs.first)
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(250))
                #expect(try await q.extend([(job.id, job.token)], leaseMs: 500).isEmpty)
            }
            #expect(try await q.reclaimExpired() == 0)
        }
    }

    @Test func releaseHandsJobsBackFirstInLine() async throws {
        try await withQueue { q in
            try await q.enqueue([NewJob(type: "first"), NewJob(type: "second")])
            let job = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
            #expect(try await q.release([(job.id, job.token)]) == 1)
            let next = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
            #expect(next.type == "first")
            #expect(next.attempt == 1)
        }
    }

    @Test func progressIsRecordedOnlyUnderTheLease() async throws {
        try await withQueue { q in
            try await q.enqueue(NewJob(type: "x"))
            let job = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
            try await q.progress(id: job.id, token: job.token, done: 40, total: 100)
            try await q.progress(id: job.id, token: "forged", done: 99, total: 100)
            let fields = try await q.jobFields(id: job.id)
            #expect(fields["done"] == "40")
            #expect(fields["total"] == "100")
        }
    }

    @Test func cronSlotsFireOnceHoweverManyCallers() async throws {
        try await withQueue { q in
            let job = NewJob(type: "nightly")
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<10 { group.addTask { try await q.fireCron(schedule: "nightly", slotMs: 1_000_000, job: job) } }
                return try await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
            }
            #expect(ids.count == 1)
            #expect(try await q.fireCron(schedule: "nightly", slotMs: 999_000, job: job) == nil)
            #expect(try await q.fireCron(schedule: "nightly", slotMs: 2_000_000, job: job) != nil)
            #expect(try await q.stats().ready == 2)
        }
    }

    @Test func invalidInputIsRejectedBeforeRedis() async throws {
        #expect(throws: QueueError.self) { try JobQueue(name: "bad name", redis: redis) }
        #expect(throws: QueueError.self) { try JobQueue(name: "{tag}", redis: redis) }
        try await withQueue { q in
            await #expect(throws: QueueError.self) { try await q.enqueue([NewJob(type: "ok"), NewJob(type: "")]) }
            let ready = try await q.stats().ready
            #expect(ready == 0) // the valid half was not enqueued either
            await #expect(throws: QueueError.self) { try await q.setConcurrencyLimit(group: "g", 0) }
        }
    }
}
