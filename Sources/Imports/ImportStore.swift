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
        guard !current.state.isFinished, try await transition(id, from: [.validating, .waiting, .running], to: .cancelled) else {
            throw ImportError(.conflict, "import request \(id) is \(current.state.rawValue) and cannot be cancelled")
        }
        return try await request(id)
    }

    /// Whether a listing page (by its incoming cursor) is already stored.
    func pageDone(_ id: Int, cursor: String) async throws -> Bool {
        try await postgres.query("SELECT 1 FROM import_pages WHERE request_id = $1 AND cursor_in = $2", [String(id), cursor]).rows.count == 1
    }

    /// Records a stored page; once the last page of every chain is stored, the listing is complete.
    func markPage(_ id: Int, cursor: String, calls: Int, last: Bool) async throws {
        try await postgres.query("INSERT INTO import_pages (request_id, cursor_in, calls, last) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                 [String(id), cursor, String(calls), last ? "true" : "false"])
        if last {
            try await postgres.query("""
                UPDATE import_requests SET listing_done = true, updated_at = now()
                WHERE id = $1 AND (SELECT count(*) FROM import_pages WHERE request_id = $1 AND last) >= listing_chains
                """, [String(id)])
        }
    }

    /// Sets how many listing chains the request runs (before any of them starts).
    func setListingChains(_ id: Int, _ chains: Int) async throws {
        try await postgres.query("UPDATE import_requests SET listing_chains = $2 WHERE id = $1", [String(id), String(chains)])
    }

    /// Upserts calls with their participants (and transcripts, when the page carried them).
    func store(_ calls: [ImportedCall], for request: ImportRequest) async throws {
        try await postgres.transaction { tx in
            let iso = ISO8601DateFormatter()
            for call in calls {
                let id = try tx.query("""
                    INSERT INTO calls (tenant_id, platform, external_id, request_id, title, started_at, duration_seconds, direction, recording_url)
                    VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7, $8, $9)
                    ON CONFLICT (tenant_id, platform, external_id) DO UPDATE SET request_id = excluded.request_id, title = excluded.title,
                        started_at = excluded.started_at, duration_seconds = excluded.duration_seconds, direction = excluded.direction,
                        recording_url = excluded.recording_url
                    RETURNING id
                    """, [request.tenant, request.platform, call.externalId, String(request.id), call.title, call.startedAt.map(iso.string(from:)),
                          call.durationSeconds.map(String.init), call.direction, call.recordingURL]).rows[0][0]!
                try tx.query("DELETE FROM call_participants WHERE call_id = $1", [id])
                for (position, p) in call.participants.enumerated() {
                    try tx.query("""
                        INSERT INTO call_participants (call_id, position, name, email, title, affiliation, speaker_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
                        """, [id, String(position), p.name, p.email, p.title, p.affiliation, p.speakerId])
                }
                if let transcript = call.transcript { try Self.replaceTranscript(tx, callId: id, transcript) }
            }
        }
    }

    private static func replaceTranscript(_ tx: PostgresConnection, callId: String, _ segments: [TranscriptSegment]) throws {
        try tx.query("DELETE FROM transcript_segments WHERE call_id = $1", [callId])
        if !segments.isEmpty {
            try tx.copy(into: "transcript_segments", columns: ["call_id", "position", "speaker", "start_ms", "end_ms", "text"],
                        rows: segments.enumerated().map { [callId, String($0.offset), $0.element.speaker, String($0.element.startMs), String($0.element.endMs), $0.element.text] })
        }
        try tx.query("UPDATE calls SET completed_at = coalesce(completed_at, now()), failure = NULL WHERE id = $1", [callId])
    }

    /// The external ids among `ids` whose transcript is still missing.
    func incomplete(_ ids: [String], for request: ImportRequest) async throws -> [String] {
        let rows = try await postgres.query("""
            SELECT external_id FROM calls WHERE tenant_id = $1 AND platform = $2 AND external_id = ANY($3::text[]) AND completed_at IS NULL
            """, [request.tenant, request.platform, PostgresArray.text(ids)])
        return rows.rows.compactMap { $0[0] }
    }

    /// Stores transcripts; speaker ids become the participants' names where the call lists them.
    /// Calls the platform returned no transcript for are recorded as failed.
    func storeTranscripts(_ transcripts: [String: [TranscriptSegment]], requested ids: [String], for request: ImportRequest) async throws {
        let tenant = request.tenant, platform = request.platform, requestId = String(request.id)
        try await postgres.transaction { tx in
            for externalId in ids {
                guard let callId = try tx.query("SELECT id FROM calls WHERE tenant_id = $1 AND platform = $2 AND external_id = $3",
                                                 [tenant, platform, externalId]).rows.first?[0] ?? nil else { continue }
                guard var segments = transcripts[externalId] else {
                    try tx.query("UPDATE calls SET failure = 'no transcript returned' WHERE id = $1 AND completed_at IS NULL", [callId])
                    try tx.query("""
                        INSERT INTO import_failures (request_id, external_id, error) VALUES ($1, $2, 'no transcript returned')
                        ON CONFLICT (request_id, external_id) DO UPDATE SET error = excluded.error, failed_at = now()
                        """, [requestId, externalId])
                    continue
                }
                var names: [String: String] = [:]
                for row in try tx.query("SELECT speaker_id, name FROM call_participants WHERE call_id = $1 AND speaker_id IS NOT NULL", [callId]).rows {
                    if let speaker = row[0], let name = row[1] { names[speaker] = name }
                }
                for i in segments.indices { if let s = segments[i].speaker, let name = names[s] { segments[i].speaker = name } }
                try Self.replaceTranscript(tx, callId: callId, segments)
                try tx.query("DELETE FROM import_failures WHERE request_id = $1 AND external_id = $2", [requestId, externalId])
            }
        }
    }

    /// Recounts done and failed calls; when the listing is complete and nothing is pending,
    /// finishes the request (once) and returns its final state.
    func refreshProgress(_ id: Int) async throws -> ImportState? {
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
                state = CASE WHEN r.state = 'running' AND r.listing_done AND NOT counts.pending
                             THEN CASE WHEN counts.failed > 0 THEN 'completed_with_failures' ELSE 'completed' END
                             ELSE r.state END,
                finished_at = CASE WHEN r.state = 'running' AND r.listing_done AND NOT counts.pending THEN now() ELSE r.finished_at END,
                updated_at = now()
            FROM counts
            WHERE r.id = $1
            RETURNING (SELECT state FROM import_requests WHERE id = $1) AS before, r.state AS after
            """, [String(id)])
        }
        guard let row = rows.rows.first, let before = row[0], let after = row[1], before == "running", after != "running" else { return nil }
        return ImportState(rawValue: after)
    }

    /// Records an event for CS once per kind (the outbox the notifier delivers); the event's id
    /// when this call recorded it, nil when it was already there.
    func addEvent(_ id: Int, kind: String, message: String) async throws -> Int? {
        let rows = try await postgres.query("""
            INSERT INTO import_events (request_id, kind, message) VALUES ($1, $2, $3) ON CONFLICT (request_id, kind) DO NOTHING RETURNING id
            """, [String(id), kind, message])
        return rows.rows.first?[0].flatMap { Int($0) }
    }

    /// One event with its request, for delivery; nil once delivered.
    func undelivered(event: Int) async throws -> (requestId: Int, kind: String, message: String, at: Double)? {
        let rows = try await postgres.query("""
            SELECT request_id, kind, message, extract(epoch FROM created_at) FROM import_events WHERE id = $1 AND delivered_at IS NULL
            """, [String(event)])
        guard let r = rows.rows.first, let request = r[0].flatMap({ Int($0) }) else { return nil }
        return (request, r[1] ?? "", r[2] ?? "", r[3].flatMap { Double($0) } ?? 0)
    }

    func markDelivered(event: Int) async throws {
        try await postgres.query("UPDATE import_events SET delivered_at = now() WHERE id = $1", [String(event)])
    }

    /// Events not delivered after `seconds` (their notify job was lost): the sweep re-queues them.
    func stuckEvents(olderThan seconds: Int) async throws -> [Int] {
        try await postgres.query("""
            SELECT id FROM import_events WHERE delivered_at IS NULL AND created_at < now() - make_interval(secs => $1) ORDER BY id LIMIT 1000
            """, [String(seconds)]).rows.compactMap { $0[0].flatMap { Int($0) } }
    }

    /// The request's callback secret, opened (for signing callbacks).
    func callbackSecret(of request: ImportRequest) async throws -> String? {
        guard let sealed = try await postgres.query("SELECT callback_secret FROM import_requests WHERE id = $1", [String(request.id)]).rows.first?[0] ?? nil else { return nil }
        return try await vault.open(sealed, tenant: request.tenant)
    }

    /// Lists manifest rows that could not be imported as failures of the request.
    func recordRejectedRows(_ id: Int, _ rows: [(row: String, reason: String)]) async throws {
        for row in rows {
            try await postgres.query("""
                INSERT INTO import_failures (request_id, external_id, error) VALUES ($1, $2, $3)
                ON CONFLICT (request_id, external_id) DO UPDATE SET error = excluded.error
                """, [String(id), row.row, row.reason])
        }
        try await postgres.query("UPDATE import_requests SET failed_calls = failed_calls + $2 WHERE id = $1", [String(id), String(rows.count)])
    }

    /// Clears the failures of a request's calls (and its "completed with failures" event, so the
    /// retry's outcome is announced again); returns their external ids.
    func resetFailures(_ id: Int) async throws -> [String] {
        try await postgres.transaction { tx in
            let ids = try tx.query("""
                UPDATE calls SET failure = NULL WHERE request_id = $1 AND completed_at IS NULL AND failure IS NOT NULL RETURNING external_id
                """, [String(id)]).rows.compactMap { $0[0] }
            try tx.query("DELETE FROM import_failures WHERE request_id = $1", [String(id)])
            try tx.query("DELETE FROM import_events WHERE request_id = $1 AND kind = 'completed_with_failures'", [String(id)])
            try tx.query("UPDATE import_requests SET failed_calls = 0 WHERE id = $1", [String(id)])
            return ids.sorted()
        }
    }

    /// Notes a failed call to the platform; returns how long it has been failing (seconds).
    func platformFailing(_ id: Int) async throws -> Double {
        let rows = try await postgres.query("""
            UPDATE import_requests SET platform_failing_since = coalesce(platform_failing_since, now())
            WHERE id = $1 RETURNING extract(epoch FROM now() - platform_failing_since)
            """, [String(id)])
        return rows.rows.first?[0].flatMap { Double($0) } ?? 0
    }

    /// Moves the ETA of an unfinished request later (a vendor 429 paused its key).
    func extendEta(_ id: Int, byMs ms: Int) async throws {
        try await postgres.query("""
            UPDATE import_requests SET eta = greatest(eta, now()) + make_interval(secs => $2::double precision / 1000), updated_at = now()
            WHERE id = $1 AND eta IS NOT NULL AND state IN ('running', 'waiting')
            """, [String(id), String(ms)])
    }

    func platformAnswered(_ id: Int) async throws {
        try await postgres.query("UPDATE import_requests SET platform_failing_since = NULL WHERE id = $1 AND platform_failing_since IS NOT NULL", [String(id)])
    }

    /// The events of a request, oldest first.
    public func events(_ id: Int) async throws -> [(kind: String, message: String)] {
        try await postgres.query("SELECT kind, message FROM import_events WHERE request_id = $1 ORDER BY id", [String(id)])
            .rows.map { ($0[0] ?? "", $0[1] ?? "") }
    }

    /// Failed calls of a request, for the report and `retry-failed`.
    public func failures(_ id: Int) async throws -> [(externalId: String, error: String)] {
        try await postgres.query("SELECT external_id, error FROM import_failures WHERE request_id = $1 ORDER BY external_id", [String(id)])
            .rows.map { ($0[0] ?? "", $0[1] ?? "") }
    }
}

/// An imported call as the product lists it ("Imported from Gong on 2026-03-02").
public struct ImportedCallSummary: Sendable, Codable {
    public let externalId: String
    public let title: String?
    public let platform: String
    public let importedOn: String
    public let segments: Int
    public let participants: Int
    /// The line the meeting list shows.
    public let badge: String
}

extension ImportStore {
    /// A tenant's imported calls, newest import first.
    public func importedCalls(tenant: String, limit: Int) async throws -> [ImportedCallSummary] {
        let catalog = try? PlatformCatalog.bundled()
        let rows = try await postgres.query("""
            SELECT c.external_id, c.title, c.platform, to_char(c.imported_at, 'YYYY-MM-DD') AS on,
                   (SELECT count(*) FROM transcript_segments t WHERE t.call_id = c.id) AS segments,
                   (SELECT count(*) FROM call_participants p WHERE p.call_id = c.id) AS participants
            FROM calls c WHERE c.tenant_id = $1 ORDER BY c.imported_at DESC, c.id DESC LIMIT $2
            """, [tenant, String(max(1, min(limit, 1000)))])
        return rows.rows.map { r in
            let platform = r[2] ?? ""
            let name = (try? catalog?.platform(platform).name) ?? platform
            return ImportedCallSummary(externalId: r[0] ?? "", title: r[1], platform: platform, importedOn: r[3] ?? "",
                                       segments: Int(r[4] ?? "0") ?? 0, participants: Int(r[5] ?? "0") ?? 0,
                                       badge: "Imported from \(name) on \(r[3] ?? "")")
        }
    }
}
