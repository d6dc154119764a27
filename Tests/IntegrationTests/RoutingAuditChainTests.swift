import Basics
import Foundation
import Postgres
import Redis
@testable import Routing
import RoutingCore
import Schema
import Testing
import Vault

/// The routing audit in Postgres: one hash chain per tenant, personal data sealed and found by
/// its blind index, re-delivered entries stored once, tampering found, retention that keeps the
/// chains verifiable, and the move of pre-migration rows.
@Suite(.needsServers) struct RoutingAuditChainTests {
    struct Fixture {
        let postgres: PostgresClient
        let redis: RedisClient
        let prefix: String
        let log: AuditLog

        static func make() async throws -> Fixture {
            let postgres = try await TestServers.postgres()
            try await SchemaMigrations.migrator.migrate(postgres)
            let redis = TestServers.redis()
            let prefix = TestServers.uniquePrefix()
            let ring = try MasterKeyRing(keys: MasterKeyRing.generateEntry(id: "k1"), activeId: "k1")
            let log = AuditLog(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: prefix), vault: CredentialVault(keyRing: ring, postgres: postgres))
            try await log.prepare()
            return Fixture(postgres: postgres, redis: redis, prefix: prefix, log: log)
        }

        func close() async throws {
            try await TestServers.cleanup(prefix: prefix, redis: redis)
            await redis.shutdown()
            try await TestServers.dropSchema(postgres)
        }

        /// Every stored byte of the table as text (what a dump would hold).
        func dump() async throws -> String {
            try await postgres.query("SELECT coalesce(string_agg(t::text, E'\\n'), '') AS all FROM routing_audit t").value(0, "all") ?? ""
        }
    }

    static func chain(_ tenant: String, _ call: String, caller: String, at: Int = 1_764_600_000_000, dialer: String = "zendesk") -> String {
        #"{"kind":"decision","tenant":"\#(tenant)","callId":"\#(call)","caller":"\#(caller)","lead":{"lead_owner":"alice@acme.example"},"answer":{"dialer":"\#(dialer)","rule":"owner","fallbacks":["braze_timeout"]},"at":\#(at),"micros":40}"#
    }

    @Test func eachTenantsRowsFormOneSealedChainFoundByTheCallersBlindIndex() async throws {
        let f = try await Fixture.make()
        let stream = f.log.keys.auditStream
        for n in 0..<30 {
            let tenant = n % 3 == 0 ? "globex" : "acme"
            try await f.redis.send(["XADD", stream, "*", "kind", "decisions", "chains",
                                    [Self.chain(tenant, "c\(n)a", caller: "+1555123\(String(format: "%04d", n))"),
                                     Self.chain(tenant, "c\(n)b", caller: "+15559990000", dialer: "dialfire")].joined(separator: "\n")])
            try await f.redis.send(["XADD", stream, "*", "kind", "step", "tenant", tenant, "call", "c\(n)a", "caller", "+1555123\(String(format: "%04d", n))",
                                    "chain", #"{"kind":"step","tenant":"\#(tenant)","callId":"c\#(n)a","step":"dial:zendesk","at":1764600000100}"#])
        }
        var stored = 0, quarantined = 0
        for _ in 0..<20 where stored + quarantined < 90 {
            let drained = try await f.log.drain(consumer: "c1", count: 17, blockMs: 10)
            stored += drained.stored
            quarantined += drained.quarantined
        }
        #expect(stored == 90)
        #expect(quarantined == 0)

        let verified = try await f.log.verify()
        #expect(verified.map(\.tenant) == ["acme", "globex"])
        #expect(verified.map(\.rows) == [60, 30])
        #expect(verified.allSatisfy { $0.firstBreak == nil })
        // No plain phone number, lead field or chain anywhere in the table.
        let dump = try await f.dump()
        #expect(!dump.contains("+1555") && !dump.contains("5551230") && !dump.contains("alice@"), "\(dump.prefix(500))")
        #expect(dump.contains("dialfire") && dump.contains("braze_timeout"), "the answer's dialer, rule and fallbacks stay readable for counts")

        // Search by caller and trace still work, opened with the tenant's key.
        let day = Date(timeIntervalSince1970: 1_764_600_000)
        let found = try await f.log.search(tenant: "acme", from: day.addingTimeInterval(-60), to: day.addingTimeInterval(60),
                                           caller: try PhoneNumber(parsing: "+15551230001"))
        #expect(found.map(\.callId) == ["c1a"])
        #expect(found.first?.caller == "+15551230001")
        #expect(found.first?.detail.contains("alice@acme.example") == true)
        #expect(try await f.log.search(tenant: "globex", from: day.addingTimeInterval(-60), to: day.addingTimeInterval(60),
                                       caller: try PhoneNumber(parsing: "+15551230001")).isEmpty, "another tenant's index never matches")
        let trace = try await f.log.trace(tenant: "acme", callId: "c1a")
        #expect(trace.map(\.kind) == ["decision", "step"])

        // Entries delivered again after their batch was stored are not stored twice.
        let entries = [RedisStreamEntry(id: "1764600000000-0", fields: ["kind": "decisions", "chains": Self.chain("acme", "again", caller: "+15550001111")])]
        try await f.log.insert(AuditLog.rows(entries)[...], redelivered: true)
        try await f.log.insert(AuditLog.rows(entries)[...], redelivered: true)
        #expect(try await f.postgres.query("SELECT count(*) AS n FROM routing_audit WHERE call_id = 'again'").value(0, "n") == "1")
        #expect(try await f.log.verify(tenant: "acme").first?.firstBreak == nil)

        // A superuser's edit of one row is found, by position.
        let superuser = PostgresClient(PostgresConfiguration(url: TestServers.postgresURL.replacingOccurrences(of: "://switchboard@", with: "://postgres@"),
                                                             poolSize: 1, schema: f.postgres.configuration.schema))
        try await superuser.transaction { db in
            _ = try db.query("SET LOCAL session_replication_role = replica")
            _ = try db.query("UPDATE routing_audit SET dialer = 'dialfire' WHERE tenant_id = 'acme' AND seq = 7")
        }
        await superuser.shutdown()
        let tampered = try await f.log.verify(tenant: "acme")
        #expect(tampered.first?.firstBreak?.seq == 7)
        #expect(tampered.first?.rows == 6)
        #expect(try await f.log.verify(tenant: "globex").first?.firstBreak == nil)
        try await f.close()
    }

    @Test func chainsSealedForTheStreamAreOpenedAndWhatDoesNotOpenIsQuarantinedStillSealed() async throws {
        let f = try await Fixture.make()
        let stream = f.log.keys.auditStream
        let acme = try await f.log.vault.personalDataKeys(tenant: "acme")
        let sealed = try SealedChain.seal(Array(Self.chain("acme", "s1", caller: "+15557770001").utf8), personal: acme)
        let byMaster = try SealedChain.seal(Array(Self.chain("acme", "s2", caller: "+15557770002").utf8), tenant: "acme", keyRing: f.log.vault.keyRing)
        // Sealed for another tenant's key but naming acme: it does not open.
        let globex = try await f.log.vault.personalDataKeys(tenant: "globex")
        var forged = try SealedChain.seal(Array(Self.chain("acme", "s3", caller: "+15557770003").utf8), personal: globex)
        forged.replaceSubrange(0..<"~globex~".utf8.count, with: Array("~acme~".utf8))
        // A router seals each tenant's chains of one event-loop tick together: one line, two chains.
        let tick = ChainSealer.personal(acme).line(Array((Self.chain("acme", "s4a", caller: "+15557770004") + "\n"
                                                          + Self.chain("acme", "s4b", caller: "+15557770004")).utf8), tenant: "acme")
        let lines = [sealed, byMaster, forged, tick].map { String(decoding: $0, as: UTF8.self) }
        for line in lines { #expect(!line.contains("+1555777") && !line.contains("alice@")) }
        try await f.redis.send(["XADD", stream, "*", "kind", "decisions", "chains", lines.joined(separator: "\n")])
        let drained = try await f.log.drain(consumer: "c1", count: 10, blockMs: 10)
        #expect(drained == AuditLog.Drained(stored: 4, quarantined: 1))
        let day = Date(timeIntervalSince1970: 1_764_600_000)
        for (n, phone) in ["+15557770001", "+15557770002"].enumerated() {
            let found = try await f.log.search(tenant: "acme", from: day.addingTimeInterval(-60), to: day.addingTimeInterval(60), caller: try PhoneNumber(parsing: phone))
            #expect(found.map(\.callId) == ["s\(n + 1)"])
        }
        let both = try await f.log.search(tenant: "acme", from: day.addingTimeInterval(-60), to: day.addingTimeInterval(60),
                                          caller: try PhoneNumber(parsing: "+15557770004"))
        #expect(Set(both.compactMap(\.callId)) == ["s4a", "s4b"])
        let items = try await Quarantine(postgres: f.postgres).list(source: .audit)
        #expect(items.count == 1)
        #expect(items.allSatisfy { !$0.payload.contains("+1555777") && !$0.payload.contains("alice@") }, "the quarantine keeps the entry as it came, sealed")
        #expect(!(try await f.dump()).contains("+1555777"))
        try await f.close()
    }

    @Test func aBatchIsSplitByTenantIntoDisjointWriterGroups() {
        let entries = (0..<40).map { n in
            AuditLog.Entry(id: "1-\(n)", fields: ["kind": "decisions", "chains": Self.chain("t\(n % 7)", "c\(n)", caller: "+15551230000")])
        }
        let rows = AuditLog.rows(entries)
        let groups = AuditLog.shards(rows, count: 3)
        #expect(groups.count <= 3 && groups.allSatisfy { !$0.isEmpty })
        #expect(groups.map(\.count).reduce(0, +) == rows.count)
        let tenantSets = groups.map { Set($0.map(\.tenant)) }
        for (i, a) in tenantSets.enumerated() { for b in tenantSets[(i + 1)...] { #expect(a.isDisjoint(with: b)) } }
        // Two tenants share a group or not whatever else the batch holds.
        func together(_ a: String, _ b: String, in groups: [[AuditLog.Row]]) -> Bool {
            groups.contains { g in g.contains { $0.tenant == a } && g.contains { $0.tenant == b } }
        }
        for a in 0..<7 {
            for b in 0..<7 where a < b {
                let pair = AuditLog.shards(AuditLog.rows([entries[a], entries[b]]), count: 3)
                #expect(together("t\(a)", "t\(b)", in: pair) == together("t\(a)", "t\(b)", in: groups))
            }
        }
        #expect(AuditLog.shards(rows, count: 1).first?.count == rows.count)
        #expect(AuditLog.shards([], count: 4).count == 1)
    }

    @Test func theSealedBodyGivesBackCallerAndDetailWhateverTheyHold() throws {
        let cases: [(String?, String)] = [("+15550001111", #"{"a":"b"}"#), ("a\"b\\c:12:", "x\n\u{1}\u{1F}\t\r\"\\é😀"), ("", ""), (nil, "d"), (nil, ""), ("-", "-")]
        for (caller, detail) in cases {
            let body = AuditLog.sealedBody(caller: caller, detail: detail)
            #expect(SealedAuditData(opened: String(decoding: body, as: UTF8.self)) == SealedAuditData(caller: caller, detail: detail), "\(body)")
        }
        // Rows sealed before the framing hold JSON.
        #expect(SealedAuditData(opened: #"{"caller":"+1555","detail":"{}"}"#) == SealedAuditData(caller: "+1555", detail: "{}"))
        #expect(SealedAuditData(opened: #"{"caller":null,"detail":"x"}"#) == SealedAuditData(caller: nil, detail: "x"))
        // Garbage opens to nothing, never to a wrong caller.
        for garbage in ["", "\u{1}", "\u{1}99:ab", "\u{1}x:ab", "\u{1}:ab", "not json"] {
            #expect(SealedAuditData(opened: garbage) == nil, "\(garbage)")
        }
    }

    @Test func retentionRemovesWhatIsPastItAndTheChainsStillVerify() async throws {
        let f = try await Fixture.make()
        let day = 86_400.0, now = Date()
        try await f.postgres.query("SELECT switchboard_audit_partitions($1::date, 1)", [String(ISO8601DateFormatter().string(from: now.addingTimeInterval(-400 * day)).prefix(10))])
        try await f.postgres.query("INSERT INTO audit_retention (tenant_id, days, set_by) VALUES ('short', 90, 'test')")
        await #expect(throws: PostgresError.self) { try await f.postgres.query("INSERT INTO audit_retention (tenant_id, days, set_by) VALUES ('tiny', 30, 'test')") }
        var n = 0
        func store(_ tenant: String, daysAgo: Double, count: Int) async throws {
            let entries = (0..<count).map { _ -> RedisStreamEntry in
                n += 1
                return RedisStreamEntry(id: "\(1_700_000_000_000 + n)-0", fields: ["kind": "decisions", "chains": Self.chain(tenant, "r\(n)", caller: "+15550002222")])
            }
            try await f.log.insert(AuditLog.rows(entries)[...], redelivered: false, storedAt: now.addingTimeInterval(-daysAgo * day))
        }
        // Oldest first: a chain's stored_at never goes back.
        for tenant in ["short", "long"] {
            try await store(tenant, daysAgo: 400, count: 5)
            try await store(tenant, daysAgo: 100, count: 4)
            try await store(tenant, daysAgo: 89, count: 3)
        }
        let retention = AuditRetention(postgres: f.postgres)
        let removed = try await retention.run()
        #expect(removed == 10 + 4, "both tenants' 400-day rows (a whole month, dropped) and short's 100-day rows")
        let left = try await f.postgres.query("SELECT tenant_id, count(*) AS n FROM routing_audit GROUP BY 1 ORDER BY 1")
        #expect(left.records.map { "\(($0["tenant_id"] ?? nil) ?? ""):\(($0["n"] ?? nil) ?? "")" } == ["long:7", "short:3"])
        let runs = try await f.postgres.query("SELECT coalesce(partition, tenant_id) AS what, rows FROM audit_retention_runs ORDER BY id")
        #expect(runs.rows.count == 2, "\(runs.records)")
        #expect(runs.records.first.flatMap { ($0["what"] ?? nil)?.hasPrefix("routing_audit_") } == true)
        // The chains verify from their anchors; nothing younger than 90 days went.
        let verified = try await f.log.verify()
        #expect(verified.allSatisfy { $0.firstBreak == nil }, "\(verified)")
        #expect(verified.map(\.rows) == [7, 3])
        #expect(try await retention.run() == 0, "idempotent")
        // New rows still chain on after the cut.
        try await store("short", daysAgo: 0, count: 2)
        #expect(try await f.log.verify(tenant: "short").first == AuditChain.Verification(tenant: "short", rows: 5, firstBreak: nil))
        try await f.close()
    }

    @Test func rowsFromBeforeTheChainAreMovedInAndTheOldTableDropped() async throws {
        let f = try await Fixture.make()
        try await f.postgres.query("""
            INSERT INTO routing_audit_legacy (entry_id, tenant_id, kind, call_id, caller, at, micros, detail) VALUES
            ('1-0/0', 'acme', 'decision', 'old-1', '+15551230001', now() - interval '2 days', 10, '{"answer": {"dialer": "zendesk", "rule": "owner", "fallbacks": []}}'),
            ('2-0', 'acme', 'step', 'old-1', '+15551230001', now() - interval '2 days' + interval '1 second', NULL, '{"step": "dial"}'),
            ('3-0/0', 'globex', 'decision', 'old-2', '+15559870000', now() - interval '1 day', 12, '{}')
            """)
        #expect(try await f.log.migrateLegacy() == 3)
        #expect(try await f.postgres.query("SELECT to_regclass('routing_audit_legacy') IS NULL AS gone").value(0, "gone") == "t")
        #expect(try await f.log.migrateLegacy() == 0)
        #expect(try await f.log.verify().map(\.rows) == [2, 1])
        let found = try await f.log.search(tenant: "acme", from: Date().addingTimeInterval(-3 * 86_400), to: Date(), caller: try PhoneNumber(parsing: "+15551230001"))
        #expect(found.map(\.callId) == ["old-1"])
        #expect(!(try await f.dump()).contains("+1555"))
        try await f.close()
    }
}

/// The audit-worker's chain scanner reads what Foundation's decoder reads, or declines (and the
/// decoder is asked): checked on the router's chains, odd but valid JSON, and hostile bytes.
@Suite struct ChainScannerTests {
    static func decoded(_ text: String) -> ChainHead? { try? JSONDecoder().decode(ChainHead.self, from: Data(text.utf8)) }

    @Test func agreesWithTheFullDecoder() {
        let samples = [
            RoutingAuditChainTests.chain("acme", "c1", caller: "+15551230001"),
            #"{"kind":"step","tenant":"acme","callId":"c\"1\\2\n","step":"dial","at":1700000000000}"#,
            #" { "tenant" : "a" , "at" : -5, "micros": 12, "answer": {"dialer": "z", "fallbacks": ["x", 1]}, "nested": {"a": [1, {"b": null}], "c": true} } "#,
            #"{"caller": "\u00e9\ud83d\ude00", "callId": "\u0041\/", "tenant": 5, "at": 1.5, "micros": "7", "answer": []}"#,
            #"{"answer": {"dialer": null, "rule": "r", "fallbacks": []}, "at": 12345678901234567890}"#,
            #"{"tenant":"a","tenant":"b"}"#, "{}", #"{"a":1e5,"b":-0.5,"c":false}"#,
        ]
        for text in samples {
            let fast = ChainScanner.head(text)
            #expect(fast != nil, "\(text)")
            if let fast { #expect(fast == Self.decoded(text), "\(text)") }
        }
    }

    @Test func declinesWhatIsNotOneJSONObject() {
        for text in ["", "[]", "not json", #"{"a":}"#, #"{"a":1"#, #"{"a":1}x"#, #"{"a":"b\"#, "{\"a\":\"\u{1}\"}", #"{"a":tru}"#,
                     #"{"a":"\u12"}"#, #"{"callId":"x"} {"b":1}"#, #"{"answer":{"fallbacks":["a",]}}"#, #"{"caller":"\ud800"}"#,
                     #"{"caller":"\udc00x"}"#, #"{"a":01}"#, #"{"a":.5}"#, #"{"a":NaN}"#] {
            #expect(ChainScanner.head(text) == nil, "\(text)")
        }
    }

    @Test func randomMutationsNeverDisagree() {
        var random = SeededRandom(seed: 11)
        let base = Array(RoutingAuditChainTests.chain("acme", "c9", caller: "+15551230009").utf8)
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: at)
                default: bytes.insert(Array(#"{}[]",:\0"#.utf8)[Int(random.next() % 9)], at: at)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if let fast = ChainScanner.head(text) { #expect(fast == Self.decoded(text), "\(text)") }
        }
    }
}
