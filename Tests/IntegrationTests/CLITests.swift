import Foundation
import Queue
import Testing

/// The `switchboard` command as an operator runs it.
@Suite(.needsServers) struct CLITests {
    let redis = TestServers.redis()

    func run(_ arguments: [String], prefix: String) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess("switchboard", arguments: arguments,
                                     environment: ["SB_REDIS_PORT": String(TestServers.redisPort), "SB_KEY_PREFIX": prefix,
                                                   "SB_POSTGRES_URL": TestServers.postgresURL])
        let status = await child.waitForExit(seconds: 30)
        return (status ?? -1, child.log)
    }

    @Test func enqueueStatsDeadRetryAndPurge() async throws {
        let q = try TestServers.queue(redis: redis)
        let enqueued = try await run(["queue", "enqueue", q.name, "noop", "--count", "3", "--json"], prefix: q.prefix)
        #expect(enqueued.status == 0)
        #expect(enqueued.output.contains(#""created" : 3"#))
        let stats = try await run(["queue", "stats", q.name, "--json"], prefix: q.prefix)
        let decoded = try JSONDecoder().decode([QueueStats].self, from: Data(stats.output.utf8))
        #expect(decoded.first?.ready == 3)

        let job = try #require(try await q.claim(max: 1, leaseMs: 5000).jobs.first)
        try await q.fail(id: job.id, token: job.token, outcome: .fatal, delayMs: 0, message: "HTTP 401 from vendor")
        let dead = try await run(["queue", "dead", "list", "--queue", q.name], prefix: q.prefix)
        #expect(dead.output.contains("HTTP 401 from vendor"))
        #expect(try await run(["queue", "dead", "retry", "--queue", q.name, job.id], prefix: q.prefix).status == 0)
        #expect(try await q.stats().dead == 0)
        let missing = try await run(["queue", "dead", "purge", "--queue", q.name, "999999"], prefix: q.prefix)
        #expect(missing.status == 1)
        #expect(missing.output.contains("not in the dead set"))
        try await TestServers.cleanup(prefix: q.prefix, redis: redis)
    }

    @Test(arguments: [
        (["queue", "enqueue", "q", "noop", "--payload", "{not json"], "not valid JSON"),
        (["queue", "enqueue", "q", "noop", "--priority", "12"], "priority 12 must be between 0 and 9"),
        (["queue", "stats", "bad name"], "queue name 'bad name'"),
        (["queue", "limit", "q", "gong", "--rate", "3/fortnight"], "must be a number followed by ms, s, m, h or d"),
        (["queue", "dead", "retry"], "give either a job id or --all"),
        (["queue", "frobnicate"], "Unexpected argument"),
    ])
    func badArgumentsExplainThemselves(_ arguments: [String], _ message: String) async throws {
        let result = try await run(arguments, prefix: TestServers.uniquePrefix())
        #expect(result.status != 0)
        #expect(result.output.contains(message), "\(result.output)")
    }

    @Test func anUnreachableRedisIsOneClearLine() async throws {
        let child = try ChildProcess("switchboard", arguments: ["queue", "stats"], environment: ["SB_REDIS_PORT": "1"])
        #expect(await child.waitForExit(seconds: 30) == 1)
        #expect(child.log.contains("cannot talk to Redis at 127.0.0.1:1"))
    }
}
