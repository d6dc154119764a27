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

    /// Moves up to `count` entries into Postgres; returns how many were stored. Entries this
    /// consumer read before but never acknowledged (a crash, Postgres down) come first, then
    /// entries other consumers left idle for `claimIdleMs`, then new ones (waiting `blockMs`).
    @discardableResult
    public func drain(consumer: String, count: Int = 1000, blockMs: Int = 1000, claimIdleMs: Int = 60_000) async throws -> Int {
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
        guard !entries.isEmpty else { return 0 }
        try await store(entries)
        let ids = entries.map(\.id)
        _ = try await redis.pipeline([["XACK", keys.auditStream, Self.group] + ids, ["XDEL", keys.auditStream] + ids])
        return entries.count
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

    /// One row per stream entry; a `decisions` entry (a batch from the router) gives one row
    /// per chain, with ids `<stream id>/<n>` so a re-delivered batch is skipped as a whole.
    static func rows(_ entries: [Entry]) -> [[String?]] {
        var rows: [[String?]] = []
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
                rows.append([id, tenant, kind, call, caller, at, object?.micros.map(String.init),
                             object == nil ? #"{"unparsed": true}"# : chain])
            }
        }
        return rows
    }

    private func store(_ entries: [Entry]) async throws {
        let rows = Self.rows(entries)
        try await postgres.transaction { db in
            _ = try db.query("CREATE TEMP TABLE IF NOT EXISTS audit_batch (LIKE routing_audit) ON COMMIT DELETE ROWS")
            _ = try db.copy(into: "audit_batch", columns: ["entry_id", "tenant_id", "kind", "call_id", "caller", "at", "micros", "detail"], rows: rows)
            _ = try db.query("INSERT INTO routing_audit SELECT * FROM audit_batch ON CONFLICT (entry_id) DO NOTHING")
        }
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
