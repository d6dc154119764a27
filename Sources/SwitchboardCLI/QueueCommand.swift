import Basics
import ArgumentParser
import Foundation
import Queue

/// `switchboard queue …`: stats, dead jobs, pause/resume, limits, enqueue.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Inspect and operate job queues.",
        subcommands: [Stats.self, Dead.self, Pause.self, Resume.self, Limit.self, Enqueue.self])

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Depth, in-flight, dead and lifetime counters of queues.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Queue names.") var queues: [String] = ["default"]

        func run() async throws {
            let all = try await withRedis(options) { redis, settings in
                var out: [QueueStats] = []
                for name in queues {
                    let queue = try JobQueue(name: name, prefix: settings.keyPrefix, redis: redis)
                    var stats = try await queue.stats()
                    stats.learnedRates = try await queue.learnedRates()
                    out.append(stats)
                }
                return out
            }
            if options.json { return try options.printJSON(all) }
            for s in all {
                print("\(s.queue)\(s.paused ? " (paused)" : ""): ready \(s.ready), delayed \(s.delayed), running \(s.active), dead \(s.dead)")
                let counters = s.counters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                if !counters.isEmpty { print("  since start: \(counters)") }
                for rate in s.learnedRates ?? [] { print("  \(rate.key): \(rate.summary)") }
            }
        }
    }

    struct Dead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List, retry or purge dead jobs.",
                                                        subcommands: [List.self, Retry.self, Purge.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The newest dead jobs first.")
            @OptionGroup var options: GlobalOptions
            @Option(help: "Queue name.") var queue = "default"
            @Option(help: "How many to show (1-1000).") var limit = 50

            func validate() throws {
                guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
            }

            func run() async throws {
                let jobs = try await withRedis(options) { redis, s in
                    try await JobQueue(name: queue, prefix: s.keyPrefix, redis: redis).deadJobs(limit: limit)
                }
                if options.json { return try options.printJSON(jobs) }
                if jobs.isEmpty { print("no dead jobs in \(queue)"); return }
                for job in jobs {
                    let when = Date(timeIntervalSince1970: Double(job.diedAtMs) / 1000)
                    print("\(job.id)  \(job.type)  key \(job.key)  attempts \(job.attempts)  died \(when)\n    \(job.error)")
                }
            }
        }

        /// Which dead jobs a command acts on: one id, or --all.
        struct Selection: ParsableArguments {
            @Option(help: "Queue name.") var queue = "default"
            @Argument(help: "A job id, or --all.") var id: String?
            @Flag(help: "Every dead job of the queue.") var all = false

            func validate() throws {
                guard (id != nil) != all else { throw ValidationError("give either a job id or --all") }
            }

            /// Runs `act` on the queue with the id (nil for all); reports how many jobs it touched.
            func apply(_ options: GlobalOptions, verb: String, _ act: @escaping (JobQueue, String?) async throws -> Int) async throws {
                let n = try await withRedis(options) { redis, s in try await act(JobQueue(name: queue, prefix: s.keyPrefix, redis: redis), all ? nil : id) }
                if options.json { return try options.printJSON([verb: n]) }
                if n == 0, let id { throw CLIFailure("job \(id) is not in the dead set of \(queue)") }
                print("\(verb) \(n) job(s)")
            }
        }

        struct Retry: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Put dead jobs back in line with fresh attempts.")
            @OptionGroup var options: GlobalOptions
            @OptionGroup var selection: Selection

            func run() async throws { try await selection.apply(options, verb: "retried") { try await $0.retryDead(id: $1) } }
        }

        struct Purge: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete dead jobs for good.")
            @OptionGroup var options: GlobalOptions
            @OptionGroup var selection: Selection

            func run() async throws { try await selection.apply(options, verb: "purged") { try await $0.purgeDead(id: $1) } }
        }
    }

    /// A queue, or one key of it, for pause and resume.
    struct Target: ParsableArguments {
        @Argument(help: "Queue name.") var queue: String
        @Option(help: "Only this rate-limit key (e.g. gong:tenant-42).") var key: String?

        func apply(_ options: GlobalOptions, verb: String, _ act: @escaping (JobQueue, String?) async throws -> Void) async throws {
            try await withRedis(options) { redis, s in try await act(JobQueue(name: queue, prefix: s.keyPrefix, redis: redis), key) }
            if options.json { return try options.printJSON([verb: key ?? queue]) }
            print("\(verb) \(key.map { "key \($0) of " } ?? "")\(queue)")
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop handing out jobs of a queue, or of one key.")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var target: Target

        func run() async throws { try await target.apply(options, verb: "paused") { try await $0.pause(key: $1) } }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused queue or key (also ends a 429 pause early).")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var target: Target

        func run() async throws { try await target.apply(options, verb: "resumed") { try await $0.resume(key: $1) } }
    }

    struct Limit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set or clear the fleet-wide limits of a key group.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Queue name.") var queue: String
        @Argument(help: "Key group: the part of a key before ':' (e.g. gong).") var group: String
        @Option(help: "Rate windows, e.g. 3/s,10000/d.") var rate: String?
        @Option(help: "Most jobs of one key running at once.") var concurrency: Int?
        @Flag(help: "Remove the group's limits.") var clear = false
        @Option(help: "Milliseconds added to each rate window for network jitter.") var marginMs = 25

        func validate() throws {
            guard clear != (rate != nil || concurrency != nil) else { throw ValidationError("give --rate and/or --concurrency, or --clear") }
            if let rate { do { _ = try RateLimit(parsing: rate) } catch { throw ValidationError("\(error)") } }
            if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        }

        func run() async throws {
            try await withRedis(options) { redis, s in
                let q = try JobQueue(name: queue, prefix: s.keyPrefix, redis: redis)
                if clear {
                    try await q.setRateLimit(group: group, nil)
                    try await q.setConcurrencyLimit(group: group, nil)
                }
                if let rate { try await q.setRateLimit(group: group, try RateLimit(parsing: rate), marginMs: marginMs) }
                if let concurrency { try await q.setConcurrencyLimit(group: group, concurrency) }
            }
            if options.json { return try options.printJSON(["group": group, "rate": rate ?? "", "concurrency": concurrency.map(String.init) ?? ""]) }
            print(clear ? "cleared limits of \(group) in \(queue)" : "limits of \(group) in \(queue) set")
        }
    }

    struct Enqueue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enqueue jobs by hand (for testing and drills).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Queue name.") var queue: String
        @Argument(help: "Job type, e.g. noop, sleep, http.call, probe.record.") var type: String
        @Option(help: "JSON payload; with --count, {{n}} is replaced by the copy number (1, 2, …).") var payload = "{}"
        @Option(help: "Rate-limit key.") var key = "default"
        @Option(help: "Priority 0-9.") var priority = 5
        @Option(help: "Attempts before dead.") var attempts = 5
        @Option(help: "Delay in milliseconds.") var delayMs = 0
        @Option(help: "Uniqueness key.") var unique: String?
        @Option(help: "How many copies (1-1000000).") var count = 1

        func validate() throws {
            guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be between 1 and 1000000") }
            guard (try? JSONDecoder().decode(JSONValue.self, from: Data(payload(copy: 1).utf8))) != nil else {
                throw ValidationError("--payload is not valid JSON: \(payload)")
            }
            let job = NewJob(type: type, payload: payload, key: key, priority: priority, maxAttempts: attempts, delayMs: delayMs, uniqueKey: unique)
            do { try job.validate() } catch { throw ValidationError("\(error)") }
        }

        func payload(copy: Int) -> String {
            payload.replacingOccurrences(of: "{{n}}", with: String(copy))
        }

        func run() async throws {
            let jobs = (1...count).map { copy in
                NewJob(type: type, payload: payload(copy: copy), key: key, priority: priority, maxAttempts: attempts, delayMs: delayMs,
                       uniqueKey: unique?.replacingOccurrences(of: "{{n}}", with: String(copy)))
            }
            let results = try await withRedis(options) { redis, s in
                try await JobQueue(name: queue, prefix: s.keyPrefix, redis: redis).enqueue(jobs)
            }
            let created = results.filter { if case .created = $0 { return true } else { return false } }.count
            if options.json { return try options.printJSON(["created": created, "duplicates": results.count - created]) }
            if count == 1, case .duplicate(let id) = results[0] {
                print("a job with unique key \(unique ?? "") is already pending: \(id)")
            } else if count == 1 {
                print("enqueued job \(results[0].id) into \(queue)")
            } else {
                print("enqueued \(created) job(s) into \(queue)")
            }
        }
    }
}
