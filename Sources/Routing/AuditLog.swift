import Basics
import Foundation
import Postgres
import Redis
import RoutingCore
import Vault

/// The routing audit trail: the Redis stream every decision, call step and breaker transition is
/// appended to, and the Postgres table the audit-worker copies it into. Drain reads a batch
/// through a consumer group, COPYs it in one transaction (idempotent by stream id) and only then
/// acknowledges and removes it from the stream; if Postgres is down the batch stays pending and
/// the stream holds the backlog. Trace and search read Postgres.
public struct AuditLog: Sendable {
    public let redis: RedisClient
    public let postgres: PostgresClient
    public let keys: RoutingKeys
    /// Seals personal data and makes the caller's blind index (tenant data keys).
    public let vault: CredentialVault
    /// How many transactions one drain writes a batch with at once: the batch's tenants are split
    /// into this many groups, whose chains (and chain-head locks) are disjoint.
    public let writers: Int
    public static let group = "audit-writers"

    public init(redis: RedisClient, postgres: PostgresClient, keys: RoutingKeys, vault: CredentialVault, writers: Int = 1) {
        self.redis = redis
        self.postgres = postgres
        self.keys = keys
        self.vault = vault
        self.writers = max(1, writers)
    }

    /// Creates the consumer group (idempotent).
    public func prepare() async throws {
        do {
            try await redis.send(["XGROUP", "CREATE", keys.auditStream, Self.group, "0", "MKSTREAM"])
        } catch let error as RedisError where error.message.hasPrefix("BUSYGROUP") {}
    }

    typealias Entry = RedisStreamEntry

    /// What one drain did: rows stored, rows quarantined (Postgres refused them).
    public struct Drained: Sendable, Equatable {
        public let stored: Int
        public let quarantined: Int
        public init(stored: Int, quarantined: Int) {
            self.stored = stored
            self.quarantined = quarantined
        }
    }

    /// Moves up to `count` entries into Postgres; returns how many rows were stored and how many
    /// Postgres refused (those are quarantined with the reason, so one bad row never holds up the
    /// batch behind it; the good rows of the batch are still stored). Entries this
    /// consumer read before but never acknowledged (a crash, Postgres down) come first, then
    /// entries other consumers left idle for `claimIdleMs`, then new ones (waiting `blockMs`).
    @discardableResult
    public func drain(consumer: String, count: Int = 1000, blockMs: Int = 1000, claimIdleMs: Int = 60_000) async throws -> Drained {
        var entries = try await read(["XREADGROUP", "GROUP", Self.group, consumer, "COUNT", String(count), "STREAMS", keys.auditStream, "0"])
        var redelivered = !entries.isEmpty
        if entries.isEmpty {
            let claimed = try await redis.send(["XAUTOCLAIM", keys.auditStream, Self.group, consumer, String(claimIdleMs), "0-0", "COUNT", String(count)])
            entries = RedisStreamEntry.fromList(claimed.array?.count ?? 0 > 1 ? claimed.array![1] : .null)
            redelivered = !entries.isEmpty
        }
        if entries.isEmpty {
            let reply = try await redis.withConnection { connection in
                try connection.withTimeout(ms: blockMs + 5000) {
                    try connection.send(["XREADGROUP", "GROUP", Self.group, consumer, "COUNT", String(count), "BLOCK", String(blockMs),
                                         "STREAMS", self.keys.auditStream, ">"])
                }
            }
            if case .error(let message) = reply { throw RedisError(.server, message) }
            entries = RedisStreamEntry.fromRead(reply)
        }
        guard !entries.isEmpty else { return Drained(stored: 0, quarantined: 0) }
        let drained = try await store(entries, redelivered: redelivered)
        let ids = entries.map(\.id)
        _ = try await redis.pipeline([["XACK", keys.auditStream, Self.group] + ids, ["XDEL", keys.auditStream] + ids])
        return drained
    }

    private func read(_ command: [String]) async throws -> [Entry] {
        RedisStreamEntry.fromRead(try await redis.send(command))
    }

    static func milliseconds(streamId: String) -> Int {
        streamId.split(separator: "-").first.flatMap { Int($0) } ?? 0
    }

    /// One row of `routing_audit` before it joins its chain, with the stream entry it came from
    /// (for the quarantine).
    struct Row {
        let entryId: String
        let tenant: String
        let kind: String
        let callId: String?
        let caller: String?
        let atMs: Int
        let micros: Int?
        let dialer: String?
        let rule: String?
        let fallbacks: [String]?
        let detail: String
        let entry: Entry
        let index: Int
    }

    /// One row per stream entry; a `decisions` entry (a batch from the router) gives one row
    /// per chain, with ids `<stream id>/<n>` so a re-delivered batch is skipped as a whole.
    /// `chains[i]`, when given, holds the opened chains of `entries[i]` (see `rows(opening:)`).
    static func rows(_ entries: [Entry], chains opened: [[String]]? = nil) -> [Row] {
        var rows: [Row] = []
        for (i, e) in entries.enumerated() {
            let entryKind = e.fields["kind"]
            let batch = entryKind == "decisions"
            let chains = opened?[i] ?? lines(of: e).map(String.init)
            let kind = batch ? "decision" : (entryKind ?? "decision")
            let tenant = e.fields["tenant"] ?? "", call = e.fields["call"].flatMap { $0.isEmpty ? nil : $0 }
            let caller = e.fields["caller"].flatMap { $0.isEmpty ? nil : $0 }
            for (n, chain) in chains.enumerated() {
                let object = ChainScanner.head(chain) ?? (try? JSONDecoder().decode(ChainHead.self, from: Data(chain.utf8)))
                rows.append(Row(entryId: batch ? "\(e.id)/\(n)" : e.id,
                                tenant: object?.tenant ?? tenant, kind: kind,
                                callId: object?.callId ?? call,
                                caller: object?.caller ?? caller,
                                atMs: object?.at ?? milliseconds(streamId: e.id), micros: object?.micros,
                                dialer: object?.answer?.dialer, rule: object?.answer?.rule, fallbacks: object?.answer?.fallbacks,
                                detail: object == nil ? #"{"unparsed": true}"# : chain, entry: e, index: n))
            }
        }
        return rows
    }

    /// The chain lines of an entry: one per line of a `decisions` batch's `chains`, or its `chain`.
    static func lines(of e: Entry) -> [Substring] {
        // Split on the newline byte (a Character split walks grapheme clusters: slow at ingest rates).
        if e.fields["kind"] == "decisions" { return (e.fields["chains"] ?? "").utf8.split(separator: 0x0A).map { Substring($0) } }
        return [Substring(e.fields["chain"] ?? "{}")]
    }

    /// The rows of entries as routers write them, each sealed chain opened (`SealedChain`) with
    /// its tenant's personal-data keys or the master keys; the rows keep the entry as it was
    /// (sealed) for the quarantine.
    func rows(opening entries: [Entry]) async throws -> [Row] {
        let lines = entries.map(Self.lines(of:))
        var tenants: Set<String> = [], sealed = false
        for entry in lines {
            for line in entry {
                guard let (tenant, byMasterKey, _) = SealedChain.parse(line.utf8) else { continue }
                sealed = true
                if !byMasterKey { tenants.insert(tenant) }
            }
        }
        guard sealed else { return Self.rows(entries) }
        var keys: [String: PersonalDataKeys] = [:]
        for tenant in tenants where TenantID.isValid(tenant) { keys[tenant] = try await vault.personalDataKeys(tenant: tenant) }
        // A sealed line may hold several chains of its tenant (one per line once opened); a plain
        // line comes back as it is.
        return Self.rows(entries, chains: lines.map { entry in
            entry.flatMap { line in
                SealedChain.open(line, keyRing: vault.keyRing, keys: keys).utf8.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
            }
        })
    }

    private func store(_ entries: [Entry], redelivered: Bool) async throws -> Drained {
        let shards = Self.shards(try await rows(opening: entries), count: writers)
        if shards.count == 1 { return try await store(rowsOf: shards[0], redelivered: redelivered) }
        return try await withThrowingTaskGroup(of: Drained.self) { group in
            for shard in shards { group.addTask { try await self.store(rowsOf: shard, redelivered: redelivered) } }
            var stored = 0, quarantined = 0
            for try await drained in group {
                stored += drained.stored
                quarantined += drained.quarantined
            }
            return Drained(stored: stored, quarantined: quarantined)
        }
    }

    /// Rows split by tenant into at most `count` non-empty groups; a tenant always lands in the
    /// same group (FNV-1a of its id), so concurrent drains meet on the same groups' locks only.
    static func shards(_ rows: [Row], count: Int) -> [[Row]] {
        guard count > 1 else { return [rows] }
        var groups = [[Row]](repeating: [], count: count)
        var memo: [String: Int] = [:]
        for row in rows {
            let n: Int
            if let known = memo[row.tenant] { n = known } else {
                var hash: UInt32 = 2_166_136_261
                for byte in row.tenant.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
                n = Int(hash % UInt32(count))
                memo[row.tenant] = n
            }
            groups[n].append(row)
        }
        let filled = groups.filter { !$0.isEmpty }
        return filled.isEmpty ? [[]] : filled
    }

    private func store(rowsOf all: [Row], redelivered: Bool) async throws -> Drained {
        // A row without a valid tenant has no chain and no data key to seal it with.
        var rows: [Row] = [], refused = 0
        for row in all {
            if let problem = TenantID.problem(row.tenant) {
                try await quarantine(row, reason: "tenant: \(problem)")
                refused += 1
            } else {
                rows.append(row)
            }
        }
        guard !rows.isEmpty else { return Drained(stored: 0, quarantined: refused) }
        do {
            try await insert(rows[...], redelivered: redelivered)
            return Drained(stored: rows.count, quarantined: refused)
        } catch let error as PostgresError where error.code != .connection {
            let isolated = try await isolate(rows[...], error, redelivered: redelivered)
            return Drained(stored: isolated.stored, quarantined: isolated.quarantined + refused)
        }
    }

    /// Stores the rows Postgres accepts and quarantines the ones it refuses, by halving the batch
    /// until each refusal is one row. Connection errors end the isolation (the batch stays pending).
    private func isolate(_ rows: ArraySlice<Row>, _ failure: PostgresError, redelivered: Bool) async throws -> Drained {
        if rows.count == 1, let row = rows.first {
            guard Self.refusesData(failure) else { throw failure }
            try await quarantine(row, reason: failure.description)
            return Drained(stored: 0, quarantined: 1)
        }
        let middle = rows.startIndex + rows.count / 2
        var stored = 0, quarantined = 0
        for half in [rows[..<middle], rows[middle...]] {
            do {
                try await insert(half, redelivered: redelivered)
                stored += half.count
            } catch let error as PostgresError where error.code != .connection {
                let inner = try await isolate(half, error, redelivered: redelivered)
                stored += inner.stored
                quarantined += inner.quarantined
            }
        }
        return Drained(stored: stored, quarantined: quarantined)
    }

    /// True for errors about the data itself (SQLSTATE classes 22 data exception, 23 integrity,
    /// 54 program limit): retrying the same row can never succeed.
    static func refusesData(_ error: PostgresError) -> Bool {
        guard error.code != .connection, let state = error.sqlState else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("54")
    }

    /// What a row's personal data is sealed as: the caller and the whole chain, framed without
    /// any escaping (written for every row at ingest rates): byte 1, then `-` (no caller) or the
    /// caller's UTF-8 length, `:` and its bytes, then the chain's bytes. Rows stored before this
    /// framing hold `{"caller": …, "detail": …}` JSON; `SealedAuditData(opened:)` reads both.
    static func sealedBody(caller: String?, detail: String) -> [UInt8] {
        var out: [UInt8] = [0x01]
        out.reserveCapacity(detail.utf8.count + (caller?.utf8.count ?? 0) + 8)
        if var caller {
            caller.withUTF8 { bytes in
                out.append(contentsOf: String(bytes.count).utf8)
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: bytes)
            }
        } else {
            out.append(UInt8(ascii: "-"))
        }
        var detail = detail
        detail.withUTF8 { out.append(contentsOf: $0) }
        return out
    }

    /// The name of the routing audit's chains in `audit_chain_heads` and `audit_chain_anchors`.
    public static let chain = "routing_audit"

    /// The fields a row's hash covers, in order (what `verify` recomputes from the stored row).
    static func fields(tenant: String, seq: Int, storedMicros: Int64, entryId: String, kind: String, callId: String?, callerIndex: String?,
                       atMicros: Int64, micros: Int?, dialer: String?, rule: String?, fallbacks: [String]?, sealed: String) -> [String] {
        [tenant, String(seq), String(storedMicros), entryId, kind, callId ?? "", callerIndex ?? "", String(atMicros), micros.map(String.init) ?? "",
         dialer ?? "", rule ?? "", fallbacks.map(PostgresArray.text) ?? "", sealed]
    }

    /// Appends rows to their tenants' chains in one transaction: the chain heads of the batch's
    /// tenants are locked (in tenant order, so concurrent writers never deadlock), entries a
    /// previous attempt already stored are left out (`redelivered`), each row gets the next
    /// position and its hash, the personal data is sealed and the caller blind-indexed, and the
    /// rows go in with one COPY. `storedAt` is for tests; it never goes back within a tenant.
    func insert(_ rows: ArraySlice<Row>, redelivered: Bool, storedAt: Date = Date()) async throws {
        let tenants = Array(Set(rows.map(\.tenant))).sorted()
        var keys: [String: PersonalDataKeys] = [:]
        for tenant in tenants { keys[tenant] = try await vault.personalDataKeys(tenant: tenant) }
        // Sealing and indexing do not depend on the chain: done before any lock is taken.
        let prepared: [(row: Row, sealed: String, index: String?)] = try {
            var indexers = keys.mapValues { $0.indexer() }
            var out: [(row: Row, sealed: String, index: String?)] = []
            out.reserveCapacity(rows.count)
            for row in rows {
                guard let key = keys[row.tenant] else { throw PostgresError(.query, "no personal-data key for tenant \(row.tenant)") }
                out.append((row, try key.seal(bytes: Self.sealedBody(caller: row.caller, detail: row.detail)),
                            row.caller.flatMap { indexers[row.tenant]?.index($0) }))
            }
            return out
        }()
        let nowMs = Int64(storedAt.timeIntervalSince1970 * 1000)
        try await postgres.transaction { db in
            var candidates = prepared
            if redelivered {
                // Found through the call index (tenant, call id): rows without a call (breaker
                // transitions) are few per tenant.
                let calls = Set(candidates.compactMap(\.row.callId))
                let stored = Set(try db.query("""
                    SELECT entry_id FROM routing_audit WHERE tenant_id = ANY($1::text[]) AND entry_id = ANY($3::text[])
                        AND (call_id = ANY($2::text[]) OR ($4 AND call_id IS NULL))
                    """, [PostgresArray.text(tenants), PostgresArray.text(calls.sorted()), PostgresArray.text(candidates.map(\.row.entryId)),
                          candidates.contains { $0.row.callId == nil } ? "true" : "false"]).rows.compactMap { $0[0] })
                candidates.removeAll { stored.contains($0.row.entryId) }
            }
            guard !candidates.isEmpty else { return }
            _ = try db.query("""
                INSERT INTO audit_chain_heads (chain, tenant_id, seq, hash, stored_at)
                SELECT $1, t, 0, $2, timestamptz 'epoch' FROM unnest($3::text[]) AS t ON CONFLICT DO NOTHING
                """, [Self.chain, AuditChain.genesis, PostgresArray.text(tenants)])
            let heads = try db.query("""
                SELECT tenant_id, seq, hash, (extract(epoch FROM stored_at) * 1000)::bigint AS ms FROM audit_chain_heads
                WHERE chain = $1 AND tenant_id = ANY($2::text[]) ORDER BY tenant_id FOR UPDATE
                """, [Self.chain, PostgresArray.text(tenants)])
            var head: [String: (seq: Int, hash: String, ms: Int64)] = [:]
            for r in heads.records {
                guard let t = r["tenant_id"] ?? nil, let seq = (r["seq"] ?? nil).flatMap({ Int($0) }), let hash = r["hash"] ?? nil else { continue }
                head[t] = (seq, hash, max(nowMs, (r["ms"] ?? nil).flatMap { Int64($0) } ?? nowMs))
            }
            var out: [[String?]] = []
            out.reserveCapacity(candidates.count)
            for (row, sealed, index) in candidates {
                guard var h = head[row.tenant] else { throw PostgresError(.query, "no chain head for tenant \(row.tenant)") }
                let seq = h.seq + 1
                let atMicros = Int64(row.atMs) * 1000, storedMicros = h.ms * 1000
                let fields = Self.fields(tenant: row.tenant, seq: seq, storedMicros: storedMicros, entryId: row.entryId, kind: row.kind, callId: row.callId,
                                         callerIndex: index, atMicros: atMicros, micros: row.micros, dialer: row.dialer, rule: row.rule,
                                         fallbacks: row.fallbacks, sealed: sealed)
                let hash = AuditChain.hash(previous: h.hash, fields: fields)
                out.append([row.tenant, String(seq), Timestamp.utcText(ms: h.ms), row.entryId, row.kind, row.callId, index, Timestamp.utcText(ms: Int64(row.atMs)),
                            row.micros.map(String.init), row.dialer, row.rule, row.fallbacks.map(PostgresArray.text), sealed, h.hash, hash])
                h.seq = seq
                h.hash = hash
                head[row.tenant] = h
            }
            _ = try db.copy(into: "routing_audit", columns: ["tenant_id", "seq", "stored_at", "entry_id", "kind", "call_id", "caller_index", "at", "micros",
                                                             "dialer", "rule", "fallbacks", "sealed", "prev_hash", "hash"], rows: out)
            let touched = Set(candidates.map(\.row.tenant))
            let moved = head.filter { touched.contains($0.key) }.sorted { $0.key < $1.key }
            _ = try db.query("""
                UPDATE audit_chain_heads h SET seq = n.seq, hash = n.hash, stored_at = timestamptz 'epoch' + n.ms * interval '1 millisecond'
                FROM unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[]) AS n (tenant_id, seq, hash, ms)
                WHERE h.chain = $1 AND h.tenant_id = n.tenant_id
                """, [Self.chain, PostgresArray.text(moved.map(\.key)), PostgresArray.text(moved.map { String($0.value.seq) }),
                      PostgresArray.text(moved.map(\.value.hash)), PostgresArray.text(moved.map { String($0.value.ms) })])
        }
    }

    /// Moves the rows of the table migration 12 set aside (plain, unchained) through the chained,
    /// sealed writer, oldest first, then drops it; idempotent (rows already moved are skipped by
    /// their entry id). Returns how many rows were moved.
    public func migrateLegacy(batch: Int = 5000) async throws -> Int {
        guard try await postgres.query("SELECT to_regclass('routing_audit_legacy') IS NOT NULL AS present").value(0, "present") == "t" else { return 0 }
        var moved = 0, after = ("", "")
        while true {
            let page = try await postgres.query("""
                SELECT entry_id, tenant_id, kind, call_id, caller, (extract(epoch FROM at) * 1000)::bigint AS ms, micros, detail::text AS detail,
                       to_char(at, 'YYYYMMDDHH24MISSUS') AS sort FROM routing_audit_legacy
                WHERE (to_char(at, 'YYYYMMDDHH24MISSUS'), entry_id) > ($1, $2) ORDER BY 9, entry_id LIMIT $3
                """, [after.0, after.1, String(batch)])
            if page.rows.isEmpty { break }
            let rows = page.records.enumerated().map { n, r -> Row in
                let detail = (r["detail"] ?? nil) ?? "{}"
                let answer = (try? JSONDecoder().decode(ChainHead.self, from: Data(detail.utf8)))?.answer
                let id = (r["entry_id"] ?? nil) ?? "", tenant = (r["tenant_id"] ?? nil) ?? "", kind = (r["kind"] ?? nil) ?? "decision"
                let entry = Entry(id: id, fields: ["kind": kind, "tenant": tenant, "call": (r["call_id"] ?? nil) ?? "", "caller": (r["caller"] ?? nil) ?? "", "chain": detail])
                return Row(entryId: id, tenant: tenant, kind: kind, callId: r["call_id"] ?? nil, caller: r["caller"] ?? nil,
                           atMs: (r["ms"] ?? nil).flatMap { Int($0) } ?? 0, micros: (r["micros"] ?? nil).flatMap { Int($0) },
                           dialer: answer?.dialer, rule: answer?.rule, fallbacks: answer?.fallbacks, detail: detail, entry: entry, index: n)
            }
            let drained = try await store(rowsOf: rows, redelivered: true)
            moved += drained.stored
            after = ((page.records.last?["sort"] ?? nil) ?? "", rows.last?.entryId ?? "")
        }
        guard try await postgres.query("SELECT switchboard_audit_drop_legacy() AS dropped").value(0, "dropped") == "t" else {
            throw RoutingError(.invalidInput, "some legacy audit rows could not be moved (see switchboard quarantine list --source audit)")
        }
        return moved
    }

    /// What the quarantine keeps of an audit row: its stream entry and the row's index in it.
    struct QuarantinedRow: Codable {
        let streamId: String
        let index: Int
        let fields: [String: String]
    }

    private func quarantine(_ row: Row, reason: String) async throws {
        let payload = try JSONEncoder.sortedText(QuarantinedRow(streamId: row.entry.id, index: row.index, fields: row.entry.fields))
        try await Quarantine(postgres: postgres).add(.audit, tenant: row.tenant, entryKey: row.entryId, payload: payload, reason: reason)
    }

    /// Stores a quarantined row again with today's code (after a fix); throws when Postgres still
    /// refuses it. Idempotent: a row already stored is skipped by its entry id.
    public func replay(_ item: Quarantine.Item) async throws {
        let kept = try JSONDecoder().decode(QuarantinedRow.self, from: Data(item.payload.utf8))
        let rows = try await rows(opening: [Entry(id: kept.streamId, fields: kept.fields)]).filter { $0.index == kept.index }
        guard !rows.isEmpty else { throw RoutingError(.invalidInput, "quarantined audit row \(item.id) names no row of its entry") }
        try await insert(rows[...], redelivered: true)
    }

    /// One stored entry, opened.
    public struct Record: Sendable, Encodable {
        public let id: String
        public let kind: String
        public let callId: String?
        public let caller: String?
        public let at: String
        public let micros: Int?
        public let detail: String
    }

    func records(tenant: String, _ sql: String, _ parameters: [String?]) async throws -> [Record] {
        let rows = try await postgres.query("""
            SELECT entry_id, kind, call_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, micros, sealed
            FROM routing_audit WHERE tenant_id = $1 AND \(sql)
            """, [tenant] + parameters)
        let keys = try await vault.personalDataKeys(tenant: tenant)
        return rows.records.map { r in
            let opened = (r["sealed"] ?? nil).flatMap { try? keys.open($0) }.flatMap(SealedAuditData.init(opened:))
            return Record(id: (r["entry_id"] ?? nil) ?? "", kind: (r["kind"] ?? nil) ?? "", callId: r["call_id"] ?? nil, caller: opened?.caller,
                          at: (r["at"] ?? nil) ?? "", micros: (r["micros"] ?? nil).flatMap { Int($0) },
                          detail: opened?.detail ?? #"{"sealed": "cannot be opened with the current keys"}"#)
        }
    }

    /// Everything recorded for one call, in order (FR36): the decision and every step after it.
    public func trace(tenant: String, callId: String) async throws -> [Record] {
        // Same millisecond: the decision comes before the steps it led to.
        try await records(tenant: tenant, "call_id = $2 ORDER BY at, (kind <> 'decision'), entry_id", [callId])
    }

    /// Decisions in a time range, optionally for one caller (FR60–FR61), newest first. The
    /// caller is found by its blind index: no plain number is stored.
    public func search(tenant: String, from: Date, to: Date, caller: PhoneNumber? = nil, limit: Int = 100) async throws -> [Record] {
        var index: String?
        if let caller { index = try await vault.personalDataKeys(tenant: tenant).index(caller.e164) }
        return try await records(tenant: tenant, """
            kind = 'decision' AND at >= $2::timestamptz AND at < $3::timestamptz AND ($4::uuid IS NULL OR caller_index = $4::uuid)
            ORDER BY at DESC, entry_id DESC LIMIT $5
            """, [Timestamp.utcText(ms: Int64(from.timeIntervalSince1970 * 1000)), Timestamp.utcText(ms: Int64(to.timeIntervalSince1970 * 1000)),
                  index, String(max(1, min(limit, 10_000)))])
    }

    /// The tenant's breaker transitions recorded in Postgres, newest first.
    public func transitions(tenant: String, limit: Int = 100) async throws -> [Record] {
        try await records(tenant: tenant, "kind = 'breaker' ORDER BY at DESC LIMIT $2", [String(max(1, min(limit, 10_000)))])
    }

    /// Checks the hash chain of one tenant (or of every tenant), from its retention anchor on,
    /// page by page; names the first row that does not match.
    public func verify(tenant: String? = nil) async throws -> [AuditChain.Verification] {
        var tenants = tenant.map { [$0] } ?? []
        if tenant == nil {
            tenants = try await postgres.query("SELECT tenant_id FROM audit_chain_heads WHERE chain = $1 ORDER BY tenant_id", [Self.chain]).rows.compactMap { $0[0] }
        }
        var out: [AuditChain.Verification] = []
        for t in tenants {
            out.append(try await AuditChain.verify(chain: Self.chain, tenant: t, postgres: postgres) { after in
                let page = try await postgres.query("""
                    SELECT seq, entry_id, (extract(epoch FROM stored_at) * 1000000)::bigint AS stored, kind, call_id, replace(caller_index::text, '-', '') AS caller_index,
                           (extract(epoch FROM at) * 1000000)::bigint AS at, micros, dialer, rule, fallbacks::text AS fallbacks, sealed, prev_hash, hash
                    FROM routing_audit WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT 10000
                    """, [t, String(after)])
                return page.records.map { r -> AuditChain.Link in
                    let s = (r["seq"] ?? nil).flatMap { Int($0) } ?? 0
                    let fallbacks = (r["fallbacks"] ?? nil).map { PostgresArray.parseText($0) }
                    return AuditChain.Link(
                        id: s, seq: s,
                        fields: Self.fields(tenant: t, seq: s, storedMicros: (r["stored"] ?? nil).flatMap { Int64($0) } ?? 0, entryId: (r["entry_id"] ?? nil) ?? "",
                                            kind: (r["kind"] ?? nil) ?? "", callId: r["call_id"] ?? nil, callerIndex: r["caller_index"] ?? nil,
                                            atMicros: (r["at"] ?? nil).flatMap { Int64($0) } ?? 0, micros: (r["micros"] ?? nil).flatMap { Int($0) },
                                            dialer: r["dialer"] ?? nil, rule: r["rule"] ?? nil, fallbacks: fallbacks, sealed: (r["sealed"] ?? nil) ?? ""),
                        previous: (r["prev_hash"] ?? nil) ?? "", hash: (r["hash"] ?? nil) ?? "")
                }
            })
        }
        return out
    }
}

/// What `routing_audit.sealed` holds once opened: the caller and the chain.
struct SealedAuditData: Codable, Equatable {
    let caller: String?
    let detail: String

    init(caller: String?, detail: String) {
        self.caller = caller
        self.detail = detail
    }

    /// Reads the framing of `AuditLog.sealedBody`, or the JSON of rows sealed before it; nil for neither.
    init?(opened text: String) {
        let bytes = Array(text.utf8)
        guard bytes.first == 0x01 else {
            guard let json = try? JSONDecoder().decode(SealedAuditData.self, from: Data(bytes)) else { return nil }
            self = json
            return
        }
        if bytes.count >= 2, bytes[1] == UInt8(ascii: "-") {
            self.init(caller: nil, detail: String(decoding: bytes[2...], as: UTF8.self))
            return
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 1, colon <= 12,
              let length = Int(String(decoding: bytes[1..<colon], as: UTF8.self)), length >= 0, colon + 1 + length <= bytes.count else { return nil }
        self.init(caller: String(decoding: bytes[(colon + 1)..<(colon + 1 + length)], as: UTF8.self),
                  detail: String(decoding: bytes[(colon + 1 + length)...], as: UTF8.self))
    }
}

/// The parts of a decision's answer that become plain columns (no personal data).
struct ChainAnswer: Decodable, Equatable {
    var dialer: String?
    var rule: String?
    var fallbacks: [String]?

    init(dialer: String?, rule: String?, fallbacks: [String]?) {
        self.dialer = dialer
        self.rule = rule
        self.fallbacks = fallbacks
    }

    private enum CodingKeys: String, CodingKey { case dialer, rule, fallbacks }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dialer = try? c.decode(String.self, forKey: .dialer)
        rule = try? c.decode(String.self, forKey: .rule)
        fallbacks = try? c.decode([String].self, forKey: .fallbacks)
    }
}

/// The members of an audit chain that become columns; any member may be missing or of another type.
struct ChainHead: Decodable, Equatable {
    var callId: String?
    var caller: String?
    var tenant: String?
    var at: Int?
    var micros: Int?
    var answer: ChainAnswer?

    init(callId: String?, caller: String?, tenant: String?, at: Int?, micros: Int?, answer: ChainAnswer?) {
        self.callId = callId
        self.caller = caller
        self.tenant = tenant
        self.at = at
        self.micros = micros
        self.answer = answer
    }

    private enum CodingKeys: String, CodingKey { case callId, caller, tenant, at, micros, answer }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        callId = try? c.decode(String.self, forKey: .callId)
        caller = try? c.decode(String.self, forKey: .caller)
        tenant = try? c.decode(String.self, forKey: .tenant)
        at = try? c.decode(Int.self, forKey: .at)
        micros = try? c.decode(Int.self, forKey: .micros)
        answer = try? c.decode(ChainAnswer.self, forKey: .answer)
    }
}
