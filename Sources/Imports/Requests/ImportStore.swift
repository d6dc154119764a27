import Foundation
import Postgres
import Vault

/// Import requests and imported calls in Postgres. Every write is idempotent, so a replayed job
/// changes nothing twice; credentials go in sealed and come out only to a job that needs them.
public struct ImportStore: Sendable {
    public let postgres: PostgresClient
    public let vault: CredentialVault

    public init(postgres: PostgresClient, vault: CredentialVault) {
        self.postgres = postgres
        self.vault = vault
    }

    static let columns = """
        id, tenant_id, platform, to_char(from_date, 'YYYY-MM-DD') AS from_date, to_char(to_date, 'YYYY-MM-DD') AS to_date,
        estimated_calls, urgency, to_char(requested_completion, 'YYYY-MM-DD') AS requested_completion, callback_url, state,
        total_calls, done_calls, failed_calls, error, extract(epoch FROM eta) AS eta, created_by,
        extract(epoch FROM created_at) AS created_at, extract(epoch FROM finished_at) AS finished_at
        """

    static func decode(_ r: [String: String?]) -> ImportRequest? {
        func s(_ k: String) -> String? { r[k] ?? nil }
        func date(_ k: String) -> Date? { s(k).flatMap(Double.init).map { Date(timeIntervalSince1970: $0) } }
        guard let id = s("id").flatMap(Int.init), let tenant = s("tenant_id"), let platform = s("platform"),
              let urgency = s("urgency").flatMap(Urgency.init(rawValue:)), let state = s("state").flatMap(ImportState.init(rawValue:)) else { return nil }
        return ImportRequest(id: id, tenant: tenant, platform: platform, fromDate: s("from_date") ?? "", toDate: s("to_date") ?? "",
                             estimatedCalls: s("estimated_calls").flatMap(Int.init) ?? 0, urgency: urgency,
                             requestedCompletion: s("requested_completion"), callbackURL: s("callback_url"), state: state,
                             totalCalls: s("total_calls").flatMap(Int.init), doneCalls: s("done_calls").flatMap(Int.init) ?? 0,
                             failedCalls: s("failed_calls").flatMap(Int.init) ?? 0, error: s("error"), eta: date("eta"),
                             createdBy: s("created_by") ?? "", createdAt: date("created_at") ?? Date(timeIntervalSince1970: 0),
                             finishedAt: date("finished_at"))
    }

    /// Stores a validated request with its credentials (and callback secret) sealed; the tenant is
    /// created on first use.
    public func create(_ new: NewImportRequest, callbackSecret: String? = nil) async throws -> ImportRequest {
        try await postgres.query("INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", [new.tenant, new.tenantName ?? new.tenant])
        let sealed = try await vault.seal(new.credentials, tenant: new.tenant)
        var sealedSecret: String?
        if new.callbackURL != nil, let secret = callbackSecret { sealedSecret = try await vault.seal(secret, tenant: new.tenant) }
        let rows = try await postgres.query("""
            INSERT INTO import_requests (tenant_id, platform, credentials, from_date, to_date, estimated_calls, urgency,
                                         requested_completion, callback_url, callback_secret, created_by)
            VALUES ($1, $2, $3, $4::date, $5::date, $6, $7, $8::date, $9, $10, $11)
            RETURNING \(Self.columns)
            """, [new.tenant, new.platform.lowercased(), sealed, new.fromDate, new.toDate, String(new.estimatedCalls), new.urgency.rawValue,
                  new.requestedCompletion, new.callbackURL, sealedSecret, new.createdBy])
        guard let request = rows.records.first.flatMap(Self.decode) else { throw ImportError(.invalidInput, "request was not stored") }
        return request
    }

    /// One request; `notFound` when there is none.
    public func request(_ id: Int) async throws -> ImportRequest {
        let rows = try await postgres.query("SELECT \(Self.columns) FROM import_requests WHERE id = $1", [String(id)])
        guard let request = rows.records.first.flatMap(Self.decode) else { throw ImportError(.notFound, "no import request \(id)") }
        return request
    }

    /// The newest requests first, of one tenant or all.
    public func list(tenant: String?, limit: Int = 50) async throws -> [ImportRequest] {
        let rows = try await postgres.query("""
            SELECT \(Self.columns) FROM import_requests WHERE ($1::text IS NULL OR tenant_id = $1)
            ORDER BY created_at DESC, id DESC LIMIT $2
            """, [tenant, String(max(1, min(limit, 1000)))])
        return rows.records.compactMap(Self.decode)
    }

    /// The request's credentials, opened: for the jobs that call the platform, nothing else.
    func credentials(of request: ImportRequest) async throws -> [String: String] {
        let rows = try await postgres.query("SELECT credentials FROM import_requests WHERE id = $1", [String(request.id)])
        guard let sealed = rows.rows.first?[0] ?? nil else { throw ImportError(.notFound, "no import request \(request.id)") }
        return try ConnectorCredentials.validate(try await vault.open(sealed, tenant: request.tenant), platform: request.platform)
    }

    /// Moves a request from one of `from` to `to`; returns false when it was in another state.
    @discardableResult
    func transition(_ id: Int, from: [ImportState], to: ImportState, error: String? = nil, total: Int? = nil, eta: Date? = nil) async throws -> Bool {
        let rows = try await postgres.query("""
            UPDATE import_requests SET state = $2, error = coalesce($3, error), total_calls = coalesce($4::int, total_calls),
                   eta = coalesce(to_timestamp($5::double precision), eta), updated_at = now(),
                   finished_at = CASE WHEN $2 IN ('completed', 'completed_with_failures', 'no_calls', 'failed', 'cancelled') THEN now() ELSE NULL END
            WHERE id = $1 AND state = ANY($6::text[])
            """, [String(id), to.rawValue, error, total.map(String.init), eta.map { String($0.timeIntervalSince1970) },
                  PostgresArray.text(from.map(\.rawValue))])
        return rows.affected == 1
    }

    /// Cancels a request that has not finished.
    public func cancel(_ id: Int) async throws -> ImportRequest {
        let current = try await request(id)
        guard !current.state.isFinished, try await transition(id, from: [.validating, .waiting, .running, .stalled], to: .cancelled) else {
            throw ImportError(.conflict, "import request \(id) is \(current.state.rawValue) and cannot be cancelled")
        }
        return try await request(id)
    }

    /// Where a running request stands after a job stored its work.
    struct Progress {
        /// The state the request just finished in (once), nil while it runs.
        let finished: ImportState?
        /// Calls listed so far.
        let listed: Int
    }

    /// Recounts done and failed calls and notes the progress (a stalled request that moves again
    /// is running again); when the listing is complete and nothing is pending, finishes the
    /// request (once).
    func refreshProgress(_ id: Int) async throws -> Progress {
        // Lock the request row first, then count in a statement of its own: under READ COMMITTED a
        // single UPDATE … FROM (counts) re-reads a row changed after its snapshot (listing_done just
        // set) but keeps the older counts, and could finish a request before its last page's calls
        // were seen. After the lock, the counting statement's snapshot includes every writer that
        // committed before it.
        let rows = try await postgres.transaction { tx in
            _ = try tx.query("SELECT 1 FROM import_requests WHERE id = $1 FOR UPDATE", [String(id)])
            return try tx.query("""
            WITH counts AS (
                SELECT (SELECT count(*) FROM calls c WHERE c.request_id = $1 AND c.completed_at IS NOT NULL) AS done,
                       (SELECT count(*) FROM import_failures f WHERE f.request_id = $1) AS failed,
                       (SELECT count(*) FROM calls c WHERE c.request_id = $1) AS listed,
                       (SELECT count(*) FROM import_failures f WHERE f.request_id = $1 AND NOT EXISTS
                           (SELECT 1 FROM calls c WHERE c.request_id = $1 AND c.external_id = f.external_id)) AS unlisted,
                       EXISTS (SELECT 1 FROM calls c WHERE c.request_id = $1 AND c.completed_at IS NULL AND c.failure IS NULL) AS pending)
            UPDATE import_requests r SET
                done_calls = counts.done, failed_calls = counts.failed,
                total_calls = CASE WHEN r.listing_done THEN counts.listed + counts.unlisted ELSE r.total_calls END,
                state = CASE WHEN r.state IN ('running', 'stalled') AND r.listing_done AND NOT counts.pending
                             THEN CASE WHEN counts.failed > 0 THEN 'completed_with_failures' ELSE 'completed' END
                             WHEN r.state = 'stalled' THEN 'running'
                             ELSE r.state END,
                finished_at = CASE WHEN r.state IN ('running', 'stalled') AND r.listing_done AND NOT counts.pending THEN now() ELSE r.finished_at END,
                stalled_reason = CASE WHEN r.state = 'stalled' THEN NULL ELSE r.stalled_reason END,
                progress_at = now(), updated_at = now()
            FROM counts
            WHERE r.id = $1
            RETURNING (SELECT state FROM import_requests WHERE id = $1) AS before, r.state AS after, counts.listed
            """, [String(id)])
        }
        let row = rows.rows.first
        let listed = row?[2].flatMap { Int($0) } ?? 0
        guard let row, let before = row[0], let after = row[1], before == "running" || before == "stalled",
              let state = ImportState(rawValue: after), state.isFinished else { return Progress(finished: nil, listed: listed) }
        return Progress(finished: state, listed: listed)
    }

}
