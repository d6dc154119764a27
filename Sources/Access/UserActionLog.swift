import Basics
import Foundation
import Postgres
import Vault

/// The SOC 2 access log: every user action (sign-ins, user, role, token, rules, integration and
/// import changes, refused attempts) with the authenticated identity, in Postgres, append-only
/// (migration 11's trigger) and hash-chained per tenant (`AuditChain`), so `verify` finds any
/// row changed, removed or slipped in after the fact.
public struct UserActionLog: Sendable {
    public let postgres: PostgresClient

    public init(postgres: PostgresClient) { self.postgres = postgres }

    /// How an action ended.
    public enum Outcome: String, Sendable, Codable { case ok, denied, failed }

    /// One row as searches return it.
    public struct Entry: Sendable, Codable, Equatable {
        public let id: Int
        public let tenant: String?
        public let seq: Int
        public let at: String
        public let actor: String
        public let action: String
        public let target: String
        public let outcome: Outcome
        public let detail: [String: String]
        public let source: String
    }

    /// The fields a row's hash covers, in order.
    static func fields(tenant: String, seq: Int, atMicros: Int64, actor: String, actorId: Int?, action: String, target: String,
                       outcome: String, detail: String, source: String) -> [String] {
        [tenant, String(seq), String(atMicros), actor, actorId.map(String.init) ?? "", action, target, outcome, detail, source]
    }

    /// Appends one action to its tenant's chain (`tenant` nil: the installation's chain).
    /// Text is cleaned of what Postgres refuses; the detail is stored as canonical JSON.
    public func record(_ principal: Principal?, _ action: String, tenant: String?, target: String = "", outcome: Outcome = .ok,
                       detail: [String: String] = [:], source: String = "") async throws {
        let actor = principal?.name ?? "anonymous"
        let clean = { (text: String, max: Int) in UntrustedText.cleaned(text, maxBytes: max).replacingOccurrences(of: "\u{FFFD}", with: "?") }
        let detailText = String(decoding: try JSONEncoder.sorted().encode(detail.mapValues { clean($0, 2000) }), as: UTF8.self)
        let chain = tenant ?? ""
        let row = (actor: clean(actor, 300), actorId: principal.flatMap { $0.userId > 0 ? $0.userId : nil }, action: clean(action, 100),
                   target: clean(target, 300), source: clean(source, 100))
        let atMicros = Int64(Date().timeIntervalSince1970 * 1_000_000)
        try await postgres.transaction { db in
            _ = try db.query("SELECT pg_advisory_xact_lock(hashtextextended('user_actions:' || $1::text, 0))", [chain])
            let last = try db.query("SELECT seq, hash FROM user_actions WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1", [chain])
            let seq = (last.value(0, "seq").flatMap { Int($0) } ?? 0) + 1
            let previous = last.value(0, "hash") ?? AuditChain.genesis
            let fields = Self.fields(tenant: chain, seq: seq, atMicros: atMicros, actor: row.actor, actorId: row.actorId, action: row.action,
                                     target: row.target, outcome: outcome.rawValue, detail: detailText, source: row.source)
            _ = try db.query("""
                INSERT INTO user_actions (tenant_id, seq, at, actor, actor_id, action, target, outcome, detail, source, prev_hash, hash)
                VALUES ($1, $2, timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4, $5, $6, $7, $8, $9, $10, $11, $12)
                """, [chain, String(seq), String(atMicros), row.actor, row.actorId.map(String.init), row.action, row.target,
                      outcome.rawValue, detailText, row.source, previous, AuditChain.hash(previous: previous, fields: fields)])
        }
    }

    /// Checks the chain of one tenant (`tenant` nil: every chain), page by page.
    public func verify(tenant: String? = nil, all: Bool = false) async throws -> [AuditChain.Verification] {
        let chains: [String]
        if all {
            chains = try await postgres.query("SELECT DISTINCT tenant_id FROM user_actions ORDER BY tenant_id").rows.compactMap { $0.first ?? nil }
        } else {
            chains = [tenant ?? ""]
        }
        var out: [AuditChain.Verification] = []
        for chain in chains {
            out.append(try await AuditChain.verify(chain: "user_actions", tenant: chain, postgres: postgres) { after in
                try await postgres.query("""
                    SELECT id, seq, (extract(epoch FROM at) * 1000000)::bigint AS micros, actor, actor_id, action, target, outcome, detail,
                           source, prev_hash, hash FROM user_actions WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT 5000
                    """, [chain, String(after)]).records.map { r -> AuditChain.Link in
                    let s = (r["seq"] ?? nil).flatMap { Int($0) } ?? 0
                    return AuditChain.Link(
                        id: (r["id"] ?? nil).flatMap { Int($0) } ?? 0, seq: s,
                        fields: Self.fields(tenant: chain, seq: s, atMicros: (r["micros"] ?? nil).flatMap { Int64($0) } ?? 0,
                                            actor: (r["actor"] ?? nil) ?? "", actorId: (r["actor_id"] ?? nil).flatMap { Int($0) },
                                            action: (r["action"] ?? nil) ?? "", target: (r["target"] ?? nil) ?? "", outcome: (r["outcome"] ?? nil) ?? "",
                                            detail: (r["detail"] ?? nil) ?? "", source: (r["source"] ?? nil) ?? ""),
                        previous: (r["prev_hash"] ?? nil) ?? "", hash: (r["hash"] ?? nil) ?? "")
                }
            })
        }
        return out
    }

    /// A search: time range, actor, action kind, with keyset paging (`before`: the id the
    /// last page ended at). Newest first.
    public struct Query: Sendable {
        public var tenant: String?
        public var from: Date?
        public var to: Date?
        public var actor: String?
        public var action: String?
        public var before: Int?
        public var limit: Int

        public init(tenant: String?, from: Date? = nil, to: Date? = nil, actor: String? = nil, action: String? = nil, before: Int? = nil, limit: Int = 100) {
            self.tenant = tenant
            self.from = from
            self.to = to
            self.actor = actor
            self.action = action
            self.before = before
            self.limit = limit
        }
    }

    /// One page of a search and the cursor of the next (nil at the end).
    public struct Page: Sendable, Codable, Equatable {
        public let entries: [Entry]
        public let next: Int?
    }

    /// Runs a search.
    public func search(_ q: Query) async throws -> Page {
        guard (1...1000).contains(q.limit) else { throw AccessError(.invalidInput, "limit must be 1-1000") }
        let iso = ISO8601DateFormatter()
        let rows = try await postgres.query("""
            SELECT id, tenant_id, seq, at::text AS at, actor, action, target, outcome, detail, source FROM user_actions
            WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3)
              AND ($4::text IS NULL OR actor = $4) AND ($5::text IS NULL OR action = $5) AND ($6::bigint IS NULL OR id < $6)
            ORDER BY id DESC LIMIT $7
            """, [q.tenant ?? "", q.from.map(iso.string), q.to.map(iso.string), q.actor, q.action, q.before.map(String.init), String(q.limit + 1)])
        let entries = rows.records.prefix(q.limit).compactMap { r -> Entry? in
            guard let id = (r["id"] ?? nil).flatMap({ Int($0) }), let seq = (r["seq"] ?? nil).flatMap({ Int($0) }),
                  let outcome = (r["outcome"] ?? nil).flatMap(Outcome.init(rawValue:)) else { return nil }
            let tenant = (r["tenant_id"] ?? nil) ?? ""
            return Entry(id: id, tenant: tenant.isEmpty ? nil : tenant, seq: seq, at: (r["at"] ?? nil) ?? "", actor: (r["actor"] ?? nil) ?? "",
                         action: (r["action"] ?? nil) ?? "", target: (r["target"] ?? nil) ?? "", outcome: outcome,
                         detail: (r["detail"] ?? nil).flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:],
                         source: (r["source"] ?? nil) ?? "")
        }
        return Page(entries: Array(entries), next: rows.rows.count > q.limit ? entries.last?.id : nil)
    }
}
