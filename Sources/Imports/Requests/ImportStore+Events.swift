import Foundation
import Postgres

/// A request's events (the outbox CS notifications go through), its failures, and the
/// platform-outage bookkeeping that extends its ETA.
extension ImportStore {
    /// Records an event for CS once per kind (the outbox the notifier delivers); the event's id
    /// when this call recorded it, nil when it was already there.
    func addEvent(_ id: Int, kind: String, message: String) async throws -> Int? {
        let rows = try await postgres.query("""
            INSERT INTO import_events (request_id, kind, message) VALUES ($1, $2, $3) ON CONFLICT (request_id, kind) DO NOTHING RETURNING id
            """, [String(id), kind, message])
        return rows.rows.first?[0].flatMap { Int($0) }
    }

    /// Where an event goes: CS's Slack channel, or the request's callback URL. Each is delivered
    /// by its own job and recorded on its own, so one failing never holds back the other.
    enum Channel: String, Sendable {
        case slack, callback

        var deliveredColumn: String { self == .slack ? "delivered_at" : "callback_delivered_at" }
    }

    /// One event with its request, for delivery on `channel`; nil once delivered there.
    func undelivered(event: Int, on channel: Channel) async throws -> (requestId: Int, kind: String, message: String, at: Double)? {
        let rows = try await postgres.query("""
            SELECT request_id, kind, message, extract(epoch FROM created_at) FROM import_events WHERE id = $1 AND \(channel.deliveredColumn) IS NULL
            """, [String(event)])
        guard let r = rows.rows.first, let request = r[0].flatMap({ Int($0) }) else { return nil }
        return (request, r[1] ?? "", r[2] ?? "", r[3].flatMap { Double($0) } ?? 0)
    }

    func markDelivered(event: Int, on channel: Channel) async throws {
        try await postgres.query("UPDATE import_events SET \(channel.deliveredColumn) = now() WHERE id = $1", [String(event)])
    }

    /// Events not delivered after `seconds` (their job was lost), per channel: the sweep re-queues them.
    func stuckEvents(olderThan seconds: Int) async throws -> [(event: Int, channel: Channel)] {
        try await postgres.query("""
            SELECT id, 'slack' FROM import_events WHERE delivered_at IS NULL AND created_at < now() - make_interval(secs => $1)
            UNION ALL
            SELECT e.id, 'callback' FROM import_events e JOIN import_requests r ON r.id = e.request_id
            WHERE e.callback_delivered_at IS NULL AND r.callback_url IS NOT NULL AND e.created_at < now() - make_interval(secs => $1)
            ORDER BY 1 LIMIT 1000
            """, [String(seconds)]).rows.compactMap { row in
                guard let id = row[0].flatMap({ Int($0) }), let channel = row[1].flatMap(Channel.init(rawValue:)) else { return nil }
                return (id, channel)
            }
    }

    /// The request's callback secret, opened (for signing callbacks).
    func callbackSecret(of request: ImportRequest) async throws -> String? {
        guard let sealed = try await postgres.query("SELECT callback_secret FROM import_requests WHERE id = $1", [String(request.id)]).rows.first?[0] ?? nil else { return nil }
        return try await vault.open(sealed, tenant: request.tenant)
    }

    /// Records (or updates) one failure of a request: $1 request id, $2 external id or row, $3 reason.
    static let recordFailure = """
        INSERT INTO import_failures (request_id, external_id, error) VALUES ($1, $2, $3)
        ON CONFLICT (request_id, external_id) DO UPDATE SET error = excluded.error
        """

    /// Lists manifest rows that could not be imported as failures of the request.
    func recordRejectedRows(_ id: Int, _ rows: [(row: String, reason: String)]) async throws {
        for row in rows {
            try await postgres.query(Self.recordFailure, [String(id), row.row, row.reason])
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

/// The bookkeeping of stalls and resumes.
extension ImportStore {
    /// Sets the ETA when it moved by more than 2 s; whether it did.
    func setEta(_ id: Int, _ eta: Date) async throws -> Bool {
        try await postgres.query("""
            UPDATE import_requests SET eta = to_timestamp($2::double precision)
            WHERE id = $1 AND state = 'running' AND (eta IS NULL OR abs(extract(epoch FROM eta) - $2::double precision) > 2)
            """, [String(id), String(eta.timeIntervalSince1970)]).affected == 1
    }

    /// Requests validating or running that stored nothing for `ms` while their platform answered.
    func quietRequests(forMs ms: Int) async throws -> [Int] {
        try await postgres.query("""
            SELECT id FROM import_requests
            WHERE state IN ('validating', 'running') AND platform_failing_since IS NULL
              AND greatest(coalesce(progress_at, created_at), updated_at) < now() - make_interval(secs => $1::double precision / 1000)
            ORDER BY id LIMIT 1000
            """, [String(ms)]).rows.compactMap { $0[0].flatMap { Int($0) } }
    }

    /// Marks a validating or running request stalled with its reason; false when it was not.
    func markStalled(_ id: Int, reason: String) async throws -> Bool {
        try await postgres.query("""
            UPDATE import_requests SET state = 'stalled', stalled_reason = $2, error = $2, updated_at = now()
            WHERE id = $1 AND state IN ('validating', 'running')
            """, [String(id), reason]).affected == 1
    }

    /// Moves a stalled request back to work (its stall notice cleared, so a later stall is told
    /// again); false when it was not stalled.
    func resumeStalled(_ id: Int, to state: ImportState) async throws -> Bool {
        try await postgres.transaction { tx in
            let moved = try tx.query("""
                UPDATE import_requests SET state = $2, stalled_reason = NULL, error = NULL, progress_at = now(), updated_at = now()
                WHERE id = $1 AND state = 'stalled'
                """, [String(id), state.rawValue]).affected == 1
            if moved { try tx.query("DELETE FROM import_events WHERE request_id = $1 AND kind = 'stalled'", [String(id)]) }
            return moved
        }
    }

    /// The chains (by their start, ISO-8601) whose last page is stored.
    func finishedChains(_ id: Int) async throws -> Set<String> {
        Set(try await postgres.query("SELECT split_part(cursor_in, '|', 1) FROM import_pages WHERE request_id = $1 AND last", [String(id)])
            .rows.compactMap { $0[0] })
    }

    /// Listed calls of a request still missing their transcript (and not failed), sorted.
    func untranscribed(_ id: Int) async throws -> [String] {
        try await postgres.query("""
            SELECT external_id FROM calls WHERE request_id = $1 AND completed_at IS NULL AND failure IS NULL ORDER BY external_id
            """, [String(id)]).rows.compactMap { $0[0] }
    }
}
