import Curl
import Foundation
import Observability
import Postgres
import Redis
import RoutingCore
import Schema
import Settings
import Testing
import Vault

@testable import AuditWorker
@testable import Scheduler

/// Processes built in process from their `<Process>+build.swift`, on port 0, with the settings
/// they would read from the environment: the wiring is tested without spawning anything.
@Suite(.needsServers) struct InProcessAppTests {
    /// The settings a process reads, pointed at the test servers, a fresh key prefix and port 0.
    static func environment(prefix: String, schema: String?, _ extra: [String: String] = [:]) -> EnvironmentVariables {
        var values = ["SB_REDIS_PORT": String(TestServers.redisPort), "SB_POSTGRES_URL": TestServers.postgresURL,
                      "SB_KEY_PREFIX": prefix, "SB_HTTP_PORT": "0", "SB_MASTER_KEYS": MasterKeyRing.generateEntry(id: "k1")]
        if let schema { values["SB_POSTGRES_SCHEMA"] = schema }
        return EnvironmentVariables(values.merging(extra) { $1 })
    }

    /// Runs `app` until `body` returns, handing it the HTTP port the app bound.
    static func running(_ build: (@escaping @Sendable (Int) -> Void) async throws -> ProcessApp, _ body: (Int) async throws -> Void) async throws {
        let (ports, bound) = AsyncStream<Int>.makeStream()
        let app = try await build { bound.yield($0) }
        let task = Task { try await app.run(signals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        do { try await body(port) } catch {
            task.cancel()
            _ = try? await task.value
            throw error
        }
        task.cancel()
        _ = try? await task.value
    }

    @Test func theAuditWorkerBuiltInProcessStoresWhatTheStreamHolds() async throws {
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let redis = TestServers.redis()
        let prefix = TestServers.uniquePrefix()
        let settings = try AuditWorkerSettings(Self.environment(prefix: prefix, schema: postgres.configuration.schema))
        let http = HTTPClient()
        try await Self.running({ try buildAuditWorker(settings, registry: MetricsRegistry(), onBound: $0) }) { (port: Int) async throws in
            #expect(try await http.send(HTTPRequest(url: "http://127.0.0.1:\(port)/health")).status == 200)
            let keys = RoutingKeys(prefix: prefix)
            try await redis.send(["XADD", keys.auditStream, "*", "kind", "step", "tenant", "acme", "call", "c-in-process", "caller", "+15551230001",
                                  "chain", #"{"kind":"step","tenant":"acme","callId":"c-in-process","at":1700000000000}"#])
            #expect(try await TestServers.eventually(10) {
                try await postgres.query("SELECT count(*) AS n FROM routing_audit WHERE call_id = 'c-in-process'").value(0, "n") == "1"
            })
        }
        await http.shutdown()
        try await TestServers.cleanup(prefix: prefix, redis: redis)
        await redis.shutdown()
        try await TestServers.dropSchema(postgres)
    }

    @Test func theSchedulerBuiltInProcessServesHealthAndMetrics() async throws {
        let prefix = TestServers.uniquePrefix()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-schedules.json")
        try Data(#"[{"name": "nightly", "cron": "30 2 * * *", "timeZone": "UTC", "queue": "routing", "type": "crm.refresh-all"}]"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let settings = try SchedulerSettings(Self.environment(prefix: prefix, schema: nil, ["SB_SCHEDULES_FILE": file.path]))
        #expect(settings.schedules.map(\.name) == ["nightly"])
        let http = HTTPClient()
        try await Self.running({ try buildScheduler(settings, registry: MetricsRegistry(), onBound: $0) }) { (port: Int) async throws in
            #expect(try await http.send(HTTPRequest(url: "http://127.0.0.1:\(port)/health")).status == 200)
            #expect(try await http.send(HTTPRequest(url: "http://127.0.0.1:\(port)/metrics")).status == 200)
        }
        await http.shutdown()
    }
}
