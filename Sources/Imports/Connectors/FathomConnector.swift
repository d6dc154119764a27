import Basics
import Foundation
import Curl
import Queue

/// Fathom's external API v1: `GET /meetings` with `include_transcript=true` (API-key mode), so
/// transcripts come with the listing, 10 meetings a page, `next_cursor` until null. Fathom gives
/// no total: validation proves the key with one light listing and counts only when it is the last page.
public struct FathomConnector: CallConnector {
    public let baseURL: String
    let client: ConnectorHTTP

    public init(baseURL: String, apiKey: String, http: HTTPClient) {
        self.baseURL = BaseURL.trimmed(baseURL)
        self.client = ConnectorHTTP(http: http, vendor: "fathom", headers: [("X-Api-Key", apiKey)])
    }

    public var transcriptBatchSize: Int { 0 }

    func meetings(from: Date, to: Date, cursor: String?, transcripts: Bool) async throws -> (items: [JSONValue], next: String?) {
        let iso = ISO8601DateFormatter()
        var query = "created_after=\(iso.string(from: from).urlQueryEscaped)&created_before=\(iso.string(from: to).urlQueryEscaped)"
        if transcripts { query += "&include_transcript=true" }
        if let cursor { query += "&cursor=\(cursor.urlQueryEscaped)" }
        guard let object = try await client.json("GET", "\(baseURL)/meetings?\(query)") else { return ([], nil) }
        // An answer without its items is a bad answer, not an empty page.
        // (the last page says so with next_cursor: null; an answer without the field would end the listing early)
        guard let items = object["items"]?.array, let next = object["next_cursor"], next == .null || next.string != nil else {
            throw JobFailure(.retryable, "fathom /meetings: answer without items or next_cursor")
        }
        return (items, object["next_cursor"]?.string)
    }

    public func countCalls(from: Date, to: Date) async throws -> Int? {
        let first = try await meetings(from: from, to: to, cursor: nil, transcripts: false)
        return first.next == nil ? first.items.count : nil
    }

    public func page(from: Date, to: Date, cursor: String?) async throws -> ImportPage {
        let result = try await meetings(from: from, to: to, cursor: cursor, transcripts: true)
        return ImportPage(calls: result.items.compactMap(Self.parse), nextCursor: result.next)
    }

    public func transcripts(from: Date, to: Date, callIds: [String]) async throws -> [String: [TranscriptSegment]] { [:] }

    /// "HH:MM:SS" (or "MM:SS") from the meeting's start, in milliseconds.
    static func milliseconds(_ stamp: String) -> Int? {
        let parts = stamp.split(separator: ":").map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.reduce(0) { $0 * 60 + $1! } * 1000
    }

    static func parse(_ item: JSONValue) -> ImportedCall? {
        guard let id = ConnectorHTTP.int(item["recording_id"]) else { return nil }
        let start = item["recording_start_time"]?.string.flatMap(Timestamp.parse)
        let end = item["recording_end_time"]?.string.flatMap(Timestamp.parse)
        let invitees = (item["calendar_invitees"]?.elements ?? []).map {
            Participant(name: $0["name"]?.string, email: $0["email"]?.string, title: nil,
                        affiliation: $0["is_external"]?.bool.map { $0 ? "External" : "Internal" }, speakerId: nil)
        }
        var transcript: [TranscriptSegment]?
        if let items = item["transcript"]?.array {
            let starts = items.map { $0["timestamp"]?.string.flatMap(milliseconds) ?? 0 }
            transcript = items.enumerated().compactMap { i, entry in
                guard let text = entry["text"]?.string else { return nil }
                let speaker = entry["speaker"]?["display_name"]?.string
                let next = i + 1 < starts.count ? max(starts[i + 1], starts[i]) : starts[i] + 3000
                return TranscriptSegment(speaker: speaker, startMs: starts[i], endMs: next, text: text)
            }
        }
        return ImportedCall(externalId: String(id), title: item["title"]?.string ?? item["meeting_title"]?.string, startedAt: start,
                            durationSeconds: start.flatMap { s in end.flatMap { Int(exactly: $0.timeIntervalSince(s).rounded(.towardZero)) } }, direction: nil,
                            recordingURL: item["share_url"]?.string ?? item["url"]?.string, participants: invitees, transcript: transcript)
    }
}
