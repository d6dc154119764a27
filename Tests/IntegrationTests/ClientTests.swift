import Foundation
import Curl
import Postgres
import Redis
import Testing

@Suite(.needsServers) struct RedisClientTests {
    @Test func commandsAndPipelinesRoundTripBinarySafeArguments() async throws {
        let redis = TestServers.redis()
        let key = TestServers.uniquePrefix() + ":k"
        let tricky = "line\r\nbreak \u{0} nul, ünïcode, \"quotes\" $5 *3"
        try await redis.send(["SET", key, tricky])
        #expect(try await redis.send(["GET", key]).string == tricky)
        let replies = try await redis.pipeline([["INCR", key + "n"], ["INCR", key + "n"], ["LPUSH"], ["GET", key + "n"]])
        #expect(replies[0] == .integer(1))
        #expect(replies[1] == .integer(2))
        if case .error(let message) = replies[2] { #expect(message.contains("wrong number")) } else { Issue.record("expected an error reply") }
        #expect(replies[3].string == "2")
        try await redis.send(["DEL", key, key + "n"])
        await redis.shutdown()
    }

    @Test func errorRepliesAreThrownWithTheServerMessage() async throws {
        let redis = TestServers.redis()
        await #expect(throws: RedisError.self) { try await redis.send(["NOSUCHCOMMAND"]) }
        await redis.shutdown()
    }

    @Test func scriptsReloadAfterScriptFlush() async throws {
        let redis = TestServers.redis(poolSize: 1)
        let script = RedisScript("return tonumber(ARGV[1]) * 2 + \(Int.random(in: 0...1_000_000)) * 0")
        #expect(try await redis.run(script, keys: [], args: ["21"]).int == 42)
        try await redis.send(["SCRIPT", "FLUSH"])
        #expect(try await redis.run(script, keys: [], args: ["4"]).int == 8)
        await redis.shutdown()
    }

    @Test func manyConcurrentCallersShareASmallPool() async throws {
        let redis = TestServers.redis(poolSize: 3)
        let key = TestServers.uniquePrefix() + ":counter"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { try await redis.send(["INCR", key]) } }
            try await group.waitForAll()
        }
        #expect(try await redis.send(["GET", key]).int == 200)
        try await redis.send(["DEL", key])
        await redis.shutdown()
    }

    @Test func blockingPopWaitsOnItsOwnTimeout() async throws {
        let redis = TestServers.redis()
        let key = TestServers.uniquePrefix() + ":list"
        let started = Date()
        #expect(try await redis.blockingPop(key, timeoutMs: 200) == nil)
        #expect(Date().timeIntervalSince(started) >= 0.15)
        try await redis.send(["RPUSH", key, "x"])
        #expect(try await redis.blockingPop(key, timeoutMs: 1000) == "x")
        await redis.shutdown()
    }

    @Test func unreachableServerIsAConnectionError() async throws {
        let redis = RedisClient(RedisConfiguration(port: 1, poolSize: 1, connectTimeoutMs: 200, connectAttempts: 2))
        do {
            try await redis.send(["PING"])
            Issue.record("PING to port 1 succeeded")
        } catch let error as RedisError {
            #expect(error.code == .connection)
        }
        await redis.shutdown()
    }

    @Test func aRestartedServerIsReconnectedTransparently() async throws {
        // Kill the client's connection from the server side; the next call opens a new one.
        let redis = TestServers.redis(poolSize: 1)
        let name = TestServers.uniquePrefix()
        try await redis.send(["CLIENT", "SETNAME", name])
        let id = try await redis.send(["CLIENT", "ID"]).int!
        let admin = TestServers.redis(poolSize: 1)
        try await admin.send(["CLIENT", "KILL", "ID", String(id)])
        await #expect(throws: RedisError.self) { try await redis.send(["PING"]) }
        #expect(try await redis.send(["PING"]).string == "PONG")
        await redis.shutdown()
        await admin.shutdown()
    }
}

@Suite(.needsServers) struct PostgresClientTests {
    @Test func parametersAreBoundNeverSpliced() async throws {
        let pg = try await TestServers.postgres()
        try await pg.query("CREATE TABLE t (id serial PRIMARY KEY, name text)")
        let hostile = "x'); DROP TABLE t; --"
        try await pg.query("INSERT INTO t (name) VALUES ($1)", [hostile])
        try await pg.query("INSERT INTO t (name) VALUES ($1)", [nil])
        let rows = try await pg.query("SELECT name FROM t ORDER BY id")
        #expect(rows.rows == [[hostile], [nil]])
        try await TestServers.dropSchema(pg)
    }

    @Test func transactionsRollBackOnError() async throws {
        let pg = try await TestServers.postgres()
        try await pg.query("CREATE TABLE t (id int PRIMARY KEY)")
        await #expect(throws: PostgresError.self) {
            try await pg.transaction { tx in
                try tx.query("INSERT INTO t VALUES (1)")
                try tx.query("INSERT INTO t VALUES (1)")
            }
        }
        #expect(try await pg.query("SELECT count(*) AS n FROM t").value(0, "n") == "0")
        do {
            try await pg.query("INSERT INTO t VALUES (2), (2)")
        } catch let error as PostgresError {
            #expect(error.sqlState == "23505")
            #expect(error.code == .query)
        }
        try await TestServers.dropSchema(pg)
    }

    @Test func copyCarriesTabsNewlinesBackslashesAndNulls() async throws {
        let pg = try await TestServers.postgres()
        try await pg.query("CREATE TABLE c (id int, body text)")
        let rows: [[String?]] = (0..<5000).map { [String($0), $0 % 7 == 0 ? nil : "row \($0)\twith\ttabs\nnewline \\ back\\slash"] }
        #expect(try await pg.copy(into: "c", columns: ["id", "body"], rows: rows) == 5000)
        let back = try await pg.query("SELECT id, body FROM c ORDER BY id")
        #expect(back.rows.count == 5000)
        #expect(back.rows[1][1] == rows[1][1])
        #expect(back.rows[7][1] == nil)
        try await TestServers.dropSchema(pg)
    }

    @Test func migrationsApplyOnceEvenWhenRacing() async throws {
        let pg = try await TestServers.postgres()
        let migrator = Migrator([
            Migration(2, "second", "ALTER TABLE m ADD COLUMN note text;"),
            Migration(1, "first", "CREATE TABLE m (id int PRIMARY KEY);"),
        ])
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<3 { group.addTask { try await migrator.migrate(pg) } }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == [1, 2])
        #expect(try await migrator.appliedVersions(pg) == [1, 2])
        #expect(try await migrator.migrate(pg).isEmpty)
        try await TestServers.dropSchema(pg)
    }

    @Test func aFailingMigrationLeavesNothingHalfDone() async throws {
        let pg = try await TestServers.postgres()
        let migrator = Migrator([Migration(1, "broken", "CREATE TABLE a (id int); CREATE TABLE a (id int);")])
        await #expect(throws: PostgresError.self) { try await migrator.migrate(pg) }
        #expect(try await pg.query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'a'").value(0, "n") == "0")
        #expect(try await migrator.appliedVersions(pg).isEmpty)
        try await TestServers.dropSchema(pg)
    }
}

@Suite(.needsServers) struct HTTPClientTests {
    @Test func statusHeadersAndRetryAfterComeBack() async throws {
        let server = try await CounterServer(limit: 2, windowMs: 60_000)
        let client = HTTPClient(maxConnections: 2)
        #expect(try await client.send(HTTPRequest(url: server.url + "/hit")).status == 200)
        #expect(try await client.send(HTTPRequest(method: "POST", url: server.url + "/hit", body: Array("{}".utf8))).status == 200)
        let limited = try await client.send(HTTPRequest(url: server.url + "/hit"))
        #expect(limited.status == 429)
        #expect((limited.retryAfterMs ?? 0) >= 1000)
        #expect(limited.text.contains("rate limit"))
        #expect(try await client.send(HTTPRequest(url: server.url + "/status/503")).status == 503)
        await client.shutdown()
    }

    @Test func timeoutsAndRefusedConnectionsAreErrors() async throws {
        let client = HTTPClient(maxConnections: 1, connectTimeoutMs: 300, timeoutMs: 500)
        do {
            _ = try await client.send(HTTPRequest(url: "http://127.0.0.1:1/"))
            Issue.record("request to port 1 succeeded")
        } catch let error as HTTPClientError {
            #expect(error.code == .connection)
        }
        await #expect(throws: HTTPClientError.self) { try await client.send(HTTPRequest(url: "not a url at all")) }
        await #expect(throws: HTTPClientError.self) { try await client.send(HTTPRequest(url: "http://x/", headers: [("Bad", "a\r\nInjected: 1")])) }
        await client.shutdown()
    }
}
