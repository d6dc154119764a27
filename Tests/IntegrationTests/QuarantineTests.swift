import Foundation
import Postgres
import Redis
import Routing
import RoutingCore
import Schema
import Testing
import Vault

/// No poison pill: a stream entry Postgres refuses is quarantined with its reason, the good rows
/// of its batch and the entries behind it are stored, and a replay after a fix stores it.
@Suite(.needsServers) struct QuarantineTests {
    @Test func auditRowsPostgresRefusesAreQuarantinedAndTheRestOfTheBatchIsStored() async throws {
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let redis = TestServers.redis()
        let prefix = TestServers.uniquePrefix()
        let keys = RoutingKeys(prefix: prefix)
        let log = AuditLog(redis: redis, postgres: postgres, keys: keys,
                           vault: CredentialVault(keyRing: try MasterKeyRing(keys: MasterKeyRing.generateEntry(id: "k1"), activeId: "k1"), postgres: postgres))
        try await log.prepare()
        func chain(_ call: String, tenant: String = "acme") -> String {
            #"{"kind":"decision","tenant":"\#(tenant)","callId":"\#(call)","at":1700000000000,"micros":12}"#
        }
        // A router batch whose second chain holds \u0000 (jsonb refuses it), a step whose call id
        // holds a raw NUL (text refuses it), and good entries before and after.
        try await redis.send(["XADD", keys.auditStream, "*", "kind", "step", "tenant", "acme", "call", "before", "chain", chain("before")])
        try await redis.send(["XADD", keys.auditStream, "*", "kind", "decisions", "tenant", "acme",
                              "chains", [chain("d-1"), chain(#"d-\u0000-bad"#), chain("d-3")].joined(separator: "\n")])
        try await redis.send(["XADD", keys.auditStream, "*", "kind", "step", "tenant", "other", "call", "raw\u{0}nul", "chain", "not json"])
        try await redis.send(["XADD", keys.auditStream, "*", "kind", "step", "tenant", "acme", "call", "after", "chain", chain("after")])

        let drained = try await log.drain(consumer: "c1", count: 100, blockMs: 10)
        #expect(drained == AuditLog.Drained(stored: 4, quarantined: 2))
        let stored = try await postgres.query("SELECT call_id FROM routing_audit ORDER BY tenant_id, seq").rows.map { $0[0] ?? "" }
        #expect(stored == ["before", "d-1", "d-3", "after"])
        // Nothing is left pending: the stream moves on.
        #expect(try await redis.send(["XLEN", keys.auditStream]).int == 0)
        #expect(try await redis.send(["XPENDING", keys.auditStream, AuditLog.group]).array?.first?.int == 0)

        let quarantine = Quarantine(postgres: postgres)
        let items = try await quarantine.list(source: .audit)
        #expect(items.count == 2)
        #expect(items.allSatisfy { $0.reason.contains("postgres") })
        #expect(Set(items.compactMap(\.tenant)) == ["acme", "other"])
        #expect(try await quarantine.openCounts() == [.audit: 2])

        // Replaying what Postgres still refuses keeps it quarantined with the new reason.
        let bad = try #require(items.first { $0.tenant == "acme" })
        await #expect(throws: PostgresError.self) { try await quarantine.replay(id: bad.id, audit: log) }
        #expect(try await quarantine.item(id: bad.id)?.replayedAt == nil)
        #expect(try await quarantine.item(id: bad.id)?.reason.hasPrefix("replay failed") == true)

        // The raw-NUL step becomes storable once its payload is fixed (as an operator would after
        // a code fix): the replay stores the row and marks the entry replayed.
        let raw = try #require(items.first { $0.tenant == "other" })
        _ = try await postgres.query("UPDATE quarantine SET payload = replace(payload, '\\u0000', '-') WHERE id = $1", [String(raw.id)])
        let replayed = try await quarantine.replay(id: raw.id, audit: log)
        #expect(replayed.replayedAt != nil)
        #expect(try await postgres.query("SELECT count(*) AS n FROM routing_audit WHERE call_id = 'raw-nul'").value(0, "n") == "1")
        #expect(try await quarantine.list(source: .audit).map(\.id) == [bad.id])
        await #expect(throws: RoutingError.self) { try await quarantine.replay(id: raw.id, audit: log) }

        try await TestServers.cleanup(prefix: prefix, redis: redis)
        await redis.shutdown()
        try await TestServers.dropSchema(postgres)
    }
}
