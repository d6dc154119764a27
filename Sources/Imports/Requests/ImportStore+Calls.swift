import Basics
import Foundation
import Postgres

/// Listing pages, imported calls and transcripts: idempotent upserts keyed by (tenant,
/// platform, external call id).
extension ImportStore {
    /// The stored page for a cursor: whether it was the chain's last, and the cursor after it.
    func storedPage(_ id: Int, cursor: String) async throws -> (last: Bool, next: String?)? {
        guard let row = try await postgres.query("SELECT last, next_cursor FROM import_pages WHERE request_id = $1 AND cursor_in = $2",
                                                 [String(id), cursor]).rows.first else { return nil }
        return (row[0] == "t", row[1] ?? nil)
    }

    /// Records a stored page and the cursor after it; once the last page of every chain is
    /// stored, the listing is complete.
    func markPage(_ id: Int, cursor: String, calls: Int, last: Bool, next: String? = nil) async throws {
        try await postgres.query("""
            INSERT INTO import_pages (request_id, cursor_in, calls, last, next_cursor) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
            """, [String(id), cursor, String(calls), last ? "true" : "false", next])
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
    /// Text is cleaned first; a call whose external id is unusable is recorded as a failure of
    /// the request with the reason (one bad record never fails the page).
    func store(_ calls: [ImportedCall], for request: ImportRequest) async throws {
        let unusable = calls.compactMap { call in call.idProblem.map { (UntrustedText.cleaned(call.externalId, maxBytes: 200), $0) } }
        let calls = calls.filter { $0.idProblem == nil }.map { $0.cleaned() }
        try await postgres.transaction { tx in
            for (id, reason) in unusable {
                try tx.query(Self.recordFailure, [String(request.id), id.isEmpty ? "(empty id)" : id, reason])
            }
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
                guard var segments = transcripts[externalId]?.map({ $0.cleaned() }) else {
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
