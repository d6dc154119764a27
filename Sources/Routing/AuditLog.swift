import Basics
import Foundation
import Postgres
import Redis
import RoutingCore

/// The routing audit trail: the Redis stream every decision, call step and breaker transition is
/// appended to, and the Postgres table the audit-worker copies it into. Drain reads a batch
/// through a consumer group, COPYs it in one transaction (idempotent by stream id) and only then
/// acknowledges and removes it from the stream; if Postgres is down the batch stays pending and
/// the stream holds the backlog. Trace and search read Postgres.
public struct AuditLog: Sendable {
    public let redis: RedisClient
    public let postgres: PostgresClient
    public let keys: RoutingKeys
    public static let group = "audit-writers"

    public init(redis: RedisClient, postgres: PostgresClient, keys: RoutingKeys) {
        self.redis = redis
        self.postgres = postgres
        self.keys = keys
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
        if entries.isEmpty {
            let claimed = try await redis.send(["XAUTOCLAIM", keys.auditStream, Self.group, consumer, String(claimIdleMs), "0-0", "COUNT", String(count)])
            entries = RedisStreamEntry.fromList(claimed.array?.count ?? 0 > 1 ? claimed.array![1] : .null)
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
        let drained = try await store(entries)
        let ids = entries.map(\.id)
        _ = try await redis.pipeline([["XACK", keys.auditStream, Self.group] + ids, ["XDEL", keys.auditStream] + ids])
        return drained
    }

    private func read(_ command: [String]) async throws -> [Entry] {
        RedisStreamEntry.fromRead(try await redis.send(command))
    }

    static func timestamp(streamId: String) -> String {
        timestamp(ms: streamId.split(separator: "-").first.flatMap { Int($0) } ?? 0)
    }

    static func timestamp(ms: Int) -> String {
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// One row of `routing_audit`, with the stream entry it came from (for the quarantine).
    struct Row {
        let values: [String?]
        let entry: Entry
        let index: Int
        var entryId: String { values[0] ?? entry.id }
        var tenant: String? { values[1] }
    }

    /// One row per stream entry; a `decisions` entry (a batch from the router) gives one row
    /// per chain, with ids `<stream id>/<n>` so a re-delivered batch is skipped as a whole.
    static func rows(_ entries: [Entry]) -> [Row] {
        var rows: [Row] = []
        for e in entries {
            let chains: [String] = e.fields["kind"] == "decisions" ? (e.fields["chains"] ?? "").split(separator: "\n").map(String.init) : [e.fields["chain"] ?? "{}"]
            for (n, chain) in chains.enumerated() {
                let object = try? JSONDecoder().decode(ChainHead.self, from: Data(chain.utf8))
                let kind = e.fields["kind"] == "decisions" ? "decision" : (e.fields["kind"] ?? "decision")
                let id = e.fields["kind"] == "decisions" ? "\(e.id)/\(n)" : e.id
                let call = object?.callId ?? e.fields["call"].flatMap { $0.isEmpty ? nil : $0 }
                let caller = object?.caller ?? e.fields["caller"].flatMap { $0.isEmpty ? nil : $0 }
                let tenant = object?.tenant ?? e.fields["tenant"] ?? ""
                let at = object?.at.map { timestamp(ms: $0) } ?? timestamp(streamId: e.id)
                rows.append(Row(values: [id, tenant, kind, call, caller, at, object?.micros.map(String.init),
                                         object == nil ? #"{"unparsed": true}"# : chain], entry: e, index: n))
            }
        }
        return rows
    }

    private func store(_ entries: [Entry]) async throws -> Drained {
        let rows = Self.rows(entries)
        do {
            try await insert(rows[...])
            return Drained(stored: rows.count, quarantined: 0)
        } catch let error as PostgresError where error.code != .connection {
            return try await isolate(rows[...], error)
        }
    }

    /// Stores the rows Postgres accepts and quarantines the ones it refuses, by halving the batch
    /// until each refusal is one row. Connection errors end the isolation (the batch stays pending).
    private func isolate(_ rows: ArraySlice<Row>, _ failure: PostgresError) async throws -> Drained {
        if rows.count == 1, let row = rows.first {
            guard Self.refusesData(failure) else { throw failure }
            try await quarantine(row, reason: failure.description)
            return Drained(stored: 0, quarantined: 1)
        }
        let middle = rows.startIndex + rows.count / 2
        var stored = 0, quarantined = 0
        for half in [rows[..<middle], rows[middle...]] {
            do {
                try await insert(half)
                stored += half.count
            } catch let error as PostgresError where error.code != .connection {
                let inner = try await isolate(half, error)
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

    private func insert(_ rows: ArraySlice<Row>) async throws {
        let values = rows.map(\.values)
        try await postgres.transaction { db in
            _ = try db.query("CREATE TEMP TABLE IF NOT EXISTS audit_batch (LIKE routing_audit) ON COMMIT DELETE ROWS")
            _ = try db.copy(into: "audit_batch", columns: ["entry_id", "tenant_id", "kind", "call_id", "caller", "at", "micros", "detail"], rows: values)
            _ = try db.query("INSERT INTO routing_audit SELECT * FROM audit_batch ON CONFLICT (entry_id) DO NOTHING")
        }
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
        let rows = Self.rows([Entry(id: kept.streamId, fields: kept.fields)]).filter { $0.index == kept.index }
        guard !rows.isEmpty else { throw RoutingError(.invalidInput, "quarantined audit row \(item.id) names no row of its entry") }
        try await insert(rows[...])
    }

    /// One stored entry.
    public struct Record: Sendable, Encodable {
        public let id: String
        public let kind: String
        public let callId: String?
        public let caller: String?
        public let at: String
        public let micros: Int?
        public let detail: String
    }

    func records(_ sql: String, _ parameters: [String?]) async throws -> [Record] {
        let rows = try await postgres.query("""
            SELECT entry_id, kind, call_id, caller, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, micros, detail::text AS detail
            FROM routing_audit \(sql)
            """, parameters)
        return rows.records.map { r in
            Record(id: (r["entry_id"] ?? nil) ?? "", kind: (r["kind"] ?? nil) ?? "", callId: r["call_id"] ?? nil, caller: r["caller"] ?? nil,
                   at: (r["at"] ?? nil) ?? "", micros: (r["micros"] ?? nil).flatMap { Int($0) }, detail: (r["detail"] ?? nil) ?? "{}")
        }
    }

    /// Everything recorded for one call, in order (FR36): the decision and every step after it.
    public func trace(tenant: String, callId: String) async throws -> [Record] {
        // Same millisecond: the decision comes before the steps it led to.
        try await records("WHERE tenant_id = $1 AND call_id = $2 ORDER BY at, (kind <> 'decision'), entry_id", [tenant, callId])
    }

    /// Decisions in a time range, optionally for one caller (FR60–FR61), newest first.
    public func search(tenant: String, from: Date, to: Date, caller: PhoneNumber? = nil, limit: Int = 100) async throws -> [Record] {
        let formatter = ISO8601DateFormatter()
        return try await records("""
            WHERE tenant_id = $1 AND kind = 'decision' AND at >= $2::timestamptz AND at < $3::timestamptz AND ($4::text IS NULL OR caller = $4)
            ORDER BY at DESC, entry_id DESC LIMIT $5
            """, [tenant, formatter.string(from: from), formatter.string(from: to), caller?.e164, String(max(1, min(limit, 10_000)))])
    }

    /// The tenant's breaker transitions recorded in Postgres, newest first.
    public func transitions(tenant: String, limit: Int = 100) async throws -> [Record] {
        try await records("WHERE tenant_id = $1 AND kind = 'breaker' ORDER BY at DESC LIMIT $2", [tenant, String(max(1, min(limit, 10_000)))])
    }
}

/// The members of an audit chain that become columns; any member may be missing or of another type.
struct ChainHead: Decodable {
    let callId: String?
    let caller: String?
    let tenant: String?
    let at: Int?
    let micros: Int?

    private enum CodingKeys: String, CodingKey { case callId, caller, tenant, at, micros }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        callId = try? c.decode(String.self, forKey: .callId)
        caller = try? c.decode(String.self, forKey: .caller)
        tenant = try? c.decode(String.self, forKey: .tenant)
        at = try? c.decode(Int.self, forKey: .at)
        micros = try? c.decode(Int.self, forKey: .micros)
    }
}
