import Foundation
import Postgres
import Queue
import Schema
import Testing
import Vault

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

    @Test func apiKeysVoiceTokensAndKeyRotationFromTheCommandLine() async throws {
        let pg = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(pg)
        let prefix = TestServers.uniquePrefix()
        let k1 = MasterKeyRing.generateEntry(id: "k1"), k2 = MasterKeyRing.generateEntry(id: "k2")
        func sb(_ arguments: [String], keys: String = k1, active: String = "k1") async throws -> (status: Int32, output: String) {
            let child = try ChildProcess("switchboard", arguments: arguments,
                                         environment: ["SB_REDIS_PORT": String(TestServers.redisPort), "SB_KEY_PREFIX": prefix,
                                                       "SB_POSTGRES_URL": TestServers.postgresURL, "SB_POSTGRES_SCHEMA": pg.configuration.schema ?? "",
                                                       "SB_MASTER_KEYS": keys, "SB_MASTER_KEY_ID": active, "SB_SECRETS_FILE": "/nonexistent"])
            return (await child.waitForExit(seconds: 30) ?? -1, child.log)
        }
        // The old spelling still creates a key (create is the default subcommand).
        let created = try await sb(["routing", "api-key", "--tenant", "acme"])
        #expect(created.status == 0 && created.output.hasPrefix("sbr_"), "\(created.output)")
        let listed = try await sb(["routing", "api-key", "list", "--tenant", "acme", "--json"])
        #expect(listed.status == 0 && !listed.output.contains(created.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let id = try #require(try JSONDecoder().decode([[String: String?]].self, from: Data(listed.output.utf8)).first?["id"] ?? nil)
        #expect(try await sb(["routing", "api-key", "revoke", "--tenant", "globex", "--id", id]).status != 0)
        #expect(try await sb(["routing", "api-key", "revoke", "--tenant", "acme", "--id", id]).status == 0)
        #expect(try await sb(["routing", "api-key", "list", "--tenant", "acme"]).output.contains("revoked"))
        #expect(try await sb(["routing", "voice-token", "--tenant", "acme", "--token", "acme-voice-0123456789"]).status == 0)
        #expect(try await sb(["routing", "voice-token", "--tenant", "acme", "--token", "acme-voice-0123456789", "--if-changed"]).status == 0)
        #expect(try await sb(["routing", "voice-token", "list", "--tenant", "acme", "--json"]).output.components(separatedBy: "\"vt_").count == 2)
        let bad = try await sb(["routing", "voice-token", "--tenant", "acme", "--overlap-minutes", "-5"])
        #expect(bad.status != 0 && bad.output.contains("--overlap-minutes"), "\(bad.output)")
        // Every change names the operating-system login, not a name given on the command line.
        let actors = try await pg.query("SELECT DISTINCT actor FROM user_actions WHERE action LIKE 'api-key.%' OR action LIKE 'voice-token.%'").rows
        let login = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid\(geteuid())"
        #expect(actors.count == 1 && (actors.first?.first ?? nil) == "cli:\(login)", "\(actors)")
        // Not what the environment claims: USER is whatever the caller sets.
        let claimed = try ChildProcess("switchboard", arguments: ["routing", "api-key", "--tenant", "acme"],
                                             environment: ["SB_REDIS_PORT": String(TestServers.redisPort), "SB_KEY_PREFIX": prefix,
                                                           "SB_POSTGRES_URL": TestServers.postgresURL, "SB_POSTGRES_SCHEMA": pg.configuration.schema ?? "",
                                                           "USER": "mallory", "LOGNAME": "mallory"])
        #expect(await claimed.waitForExit(seconds: 30) == 0, "\(claimed.log)")
        let made = try await pg.query("SELECT actor FROM user_actions WHERE action = 'api-key.create' ORDER BY id DESC LIMIT 1").value(0, "actor")
        #expect(made == "cli:\(login)")

        // Master key rotation: k2 becomes active, everything is re-sealed, and k2 alone opens it.
        let rotated = try await sb(["keys", "rotate", "--json"], keys: "\(k2),\(k1)", active: "k2")
        #expect(rotated.status == 0 && rotated.output.contains(#""voiceTenants" : 1"#), "\(rotated.output)")
        let check = try await sb(["keys", "check"], keys: k2, active: "k2")
        #expect(check.status == 0 && check.output.contains("0 do not"), "\(check.output)")
        let stale = try await sb(["keys", "check"], keys: k1, active: "k1")
        #expect(stale.status == 1 && stale.output.contains("voice tokens of acme"), "\(stale.output)")
        // A tenant's data key rotates, and everything still opens.
        let tenant = try await sb(["keys", "rotate-tenant", "--tenant", "acme", "--json"], keys: k2, active: "k2")
        #expect(tenant.status == 0 && tenant.output.contains(#""version" : "2""#), "\(tenant.output)")
        #expect(try await sb(["keys", "check"], keys: k2, active: "k2").status == 0)
        #expect(try await sb(["keys", "rotate-tenant", "--tenant", "Bad Tenant"], keys: k2, active: "k2").status != 0)

        try await TestServers.cleanup(prefix: prefix, redis: redis)
        try await redis.send(["DEL", "\(prefix):routing:apikeys", "\(prefix):routing:voicetokens"])
        try await TestServers.dropSchema(pg)
    }

    @Test func anUnreachableRedisIsOneClearLine() async throws {
        let child = try ChildProcess("switchboard", arguments: ["queue", "stats"], environment: ["SB_REDIS_PORT": "1"])
        #expect(await child.waitForExit(seconds: 30) == 1)
        #expect(child.log.contains("cannot talk to Redis at 127.0.0.1:1"))
    }
}
