import Foundation
import Postgres
import Queue
import Redis
import Routing
import RoutingCore
import Testing

/// The real servers `ops/test` started, and helpers to give each test its own corner of them.
enum TestServers {
    /// Whether `ops/test` (or someone) said where the test servers are.
    static var configured: Bool {
        ["SB_TEST_REDIS_PORT", "SB_TEST_POSTGRES_URL", "SB_TEST_BIN_DIR"].allSatisfy { !(ProcessInfo.processInfo.environment[$0] ?? "").isEmpty }
    }

    static func environment(_ name: String) -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            fatalError("\(name) is not set: run the suite with ops/test, which starts Redis and Postgres")
        }
        return value
    }

    static var redisPort: Int { Int(environment("SB_TEST_REDIS_PORT"))! }
    static var postgresURL: String { environment("SB_TEST_POSTGRES_URL") }
    static var binDir: String { environment("SB_TEST_BIN_DIR") }

    /// A TCP port nobody listens on (the kernel's pick for a socket bound to port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CocoaError(.featureUnsupported) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A prefix no other test uses.
    static func uniquePrefix(_ label: String = "t") -> String {
        "\(label)\(UInt32.random(in: 0...UInt32.max))"
    }

    static func redis(poolSize: Int = 8) -> RedisClient {
        RedisClient(RedisConfiguration(port: redisPort, poolSize: poolSize))
    }

    /// A queue under a fresh prefix; `cleanup` deletes its keys.
    static func queue(_ name: String = "q", redis: RedisClient) throws -> JobQueue {
        try JobQueue(name: name, prefix: uniquePrefix(), redis: redis)
    }

    /// Every Redis key under a prefix.
    static func keys(prefix: String, redis: RedisClient) async throws -> [String] {
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try await redis.send(["SCAN", cursor, "MATCH", "\(prefix):*", "COUNT", "1000"])
            cursor = reply.array?[0].string ?? "0"
            keys += reply.array?[1].array?.compactMap(\.string) ?? []
        } while cursor != "0"
        return keys.sorted()
    }

    static func cleanup(prefix: String, redis: RedisClient) async throws {
        for key in try await keys(prefix: prefix, redis: redis) { try await redis.send(["DEL", key]) }
    }

    /// A Postgres client whose connections use a schema of their own (created here, dropped by `dropSchema`).
    static func postgres(schema: String = uniquePrefix("s")) async throws -> PostgresClient {
        let admin = PostgresClient(PostgresConfiguration(url: postgresURL, poolSize: 1))
        try await admin.query("CREATE SCHEMA \"\(schema)\"")
        await admin.shutdown()
        return PostgresClient(PostgresConfiguration(url: postgresURL, poolSize: 4, schema: schema))
    }

    static func dropSchema(_ client: PostgresClient) async throws {
        guard let schema = client.configuration.schema else { return }
        try await client.query("DROP SCHEMA \"\(schema)\" CASCADE")
        await client.shutdown()
    }

    /// Polls `condition` every 50 ms until it holds or `seconds` pass; returns whether it held.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs a suite only where the test servers are configured; a plain `swift test` reports it
    /// as skipped with this reason instead of failing.
    static var needsServers: Self {
        .enabled(if: TestServers.configured || ProcessInfo.processInfo.environment["SB_TEST_REQUIRE_SERVERS"] == "1", "needs the Redis and Postgres that ops/test starts (SB_TEST_REDIS_PORT, SB_TEST_POSTGRES_URL, SB_TEST_BIN_DIR)")
    }
}
