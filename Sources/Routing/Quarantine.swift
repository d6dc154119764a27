import Basics
import Foundation
import Postgres
import RoutingCore

/// Where a consumer puts an entry it cannot process (a row Postgres refuses, an outcome for a
/// tenant without Braze, a vendor's 4xx): kept in Postgres with its reason, listed by
/// `switchboard quarantine list`, replayed by `switchboard quarantine replay` after a fix. An
/// entry is quarantined once per source and key, so a redelivery does not duplicate it.
public struct Quarantine: Sendable {
    public let postgres: PostgresClient

    /// Which consumer quarantined an entry (and so how it is replayed).
    public enum Source: String, Sendable, Codable, CaseIterable {
        /// A routing audit row (the audit-worker); replay stores the row again.
        case audit
        /// A call outcome for Braze write-back (the crm-worker); replay puts it back on the stream.
        case outcome
    }

    /// One quarantined entry.
    public struct Item: Sendable, Codable, Equatable {
        public let id: Int
        public let source: Source
        public let tenant: String?
        public let entryKey: String
        /// The entry as JSON text, as the consumer saw it.
        public let payload: String
        public let reason: String
        public let quarantinedAt: String
        public let replayedAt: String?
    }

    public init(postgres: PostgresClient) {
        self.postgres = postgres
    }

    /// Keeps `payload` (any JSON text) with its reason; true when it was not already kept. Tenant
    /// and reason are cleaned first (they may hold what made the entry fail).
    @discardableResult
    public func add(_ source: Source, tenant: String?, entryKey: String, payload: String, reason: String) async throws -> Bool {
        let rows = try await postgres.query("""
            INSERT INTO quarantine (source, tenant_id, entry_key, payload, reason) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (source, entry_key) DO UPDATE SET reason = EXCLUDED.reason, replayed_at = NULL
            RETURNING (xmax = 0) AS inserted
            """, [source.rawValue, tenant.map { UntrustedText.cleaned($0, maxBytes: 200) }, UntrustedText.cleaned(entryKey, maxBytes: 300),
                  Self.storable(payload), UntrustedText.cleaned(reason, maxBytes: 2000)])
        return rows.value(0, "inserted") == "t"
    }

    /// `payload` as text Postgres accepts: JSON text never holds a raw control character, but a
    /// payload that is not JSON is re-encoded as a JSON string so nothing is lost.
    static func storable(_ payload: String) -> String {
        if UntrustedText.cleaned(payload, maxBytes: Int.max) == payload { return payload }
        return (try? JSONEncoder.sortedText(payload)) ?? "\"\""
    }

    /// Quarantined entries, newest first; only those not replayed unless `includeReplayed`.
    public func list(source: Source? = nil, tenant: String? = nil, includeReplayed: Bool = false, limit: Int = 100) async throws -> [Item] {
        let rows = try await postgres.query(Self.select + """
             WHERE ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR tenant_id = $2) AND ($3 OR replayed_at IS NULL)
            ORDER BY id DESC LIMIT $4
            """, [source?.rawValue, tenant, includeReplayed ? "true" : "false", String(max(1, min(limit, 10_000)))])
        return rows.records.compactMap(Self.item)
    }

    /// One entry by id; nil when there is none.
    public func item(id: Int) async throws -> Item? {
        let rows = try await postgres.query(Self.select + " WHERE id = $1", [String(id)])
        return rows.records.first.flatMap(Self.item)
    }

    /// Marks an entry replayed (it was handed back to its consumer, or stored).
    public func markReplayed(id: Int) async throws {
        _ = try await postgres.query("UPDATE quarantine SET replayed_at = now() WHERE id = $1", [String(id)])
    }

    /// Records why a replay failed again (the entry stays quarantined).
    public func replayFailed(id: Int, reason: String) async throws {
        _ = try await postgres.query("UPDATE quarantine SET reason = $2 WHERE id = $1", [String(id), UntrustedText.cleaned(reason, maxBytes: 2000)])
    }

    /// Open (not replayed) entries per source, for `/metrics` and the CLI summary.
    public func openCounts() async throws -> [Source: Int] {
        let rows = try await postgres.query("SELECT source, count(*) AS n FROM quarantine WHERE replayed_at IS NULL GROUP BY source")
        var counts: [Source: Int] = [:]
        for r in rows.records {
            if let source = (r["source"] ?? nil).flatMap(Source.init(rawValue:)) { counts[source] = (r["n"] ?? nil).flatMap { Int($0) } ?? 0 }
        }
        return counts
    }

    /// Hands entry `id` back to its consumer with today's code: an audit row is stored again, an
    /// outcome goes back on the outcomes stream (quarantined again, under its new stream id, if it
    /// still cannot be written). Marks it replayed; a failed replay keeps it with the new reason.
    @discardableResult
    public func replay(id: Int, audit: AuditLog) async throws -> Item {
        guard let item = try await item(id: id) else { throw RoutingError(.invalidInput, "no quarantined entry \(id)") }
        guard item.replayedAt == nil else { throw RoutingError(.invalidInput, "quarantined entry \(id) was already replayed at \(item.replayedAt ?? "")") }
        do {
            switch item.source {
            case .audit:
                try await audit.replay(item)
            case .outcome:
                _ = try await audit.redis.send(["XADD", audit.keys.outcomes, "MAXLEN", "~", "1000000", "*", "tenant", item.tenant ?? "", "outcome", item.payload])
            }
        } catch {
            try await replayFailed(id: id, reason: "replay failed: \(error)")
            throw error
        }
        try await markReplayed(id: id)
        return try await self.item(id: id) ?? item
    }

    /// The columns of an `Item`, for every query that reads them.
    static let select = """
        SELECT id, source, tenant_id, entry_key, payload, reason,
               to_char(quarantined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS quarantined_at,
               to_char(replayed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS replayed_at
        FROM quarantine
        """

    static func item(_ r: [String: String?]) -> Item? {
        guard let id = (r["id"] ?? nil).flatMap({ Int($0) }), let source = (r["source"] ?? nil).flatMap(Source.init(rawValue:)) else { return nil }
        return Item(id: id, source: source, tenant: r["tenant_id"] ?? nil, entryKey: (r["entry_key"] ?? nil) ?? "", payload: (r["payload"] ?? nil) ?? "",
                    reason: (r["reason"] ?? nil) ?? "", quarantinedAt: (r["quarantined_at"] ?? nil) ?? "", replayedAt: r["replayed_at"] ?? nil)
    }
}
