import Basics
import Foundation
import Curl
import Queue

/// Grain's public API v2 (`Public-Api-Version: 2025-10-31`): `POST /v2/recordings` pages with
/// participants and a body cursor; one `GET /v2/recordings/{id}/transcript` per recording (times in
/// ms). Grain gives no total: validation proves the token with one listing and counts only when
/// it is the last page. A transcript Grain does not have (404) makes that call a listed failure.
public struct GrainConnector: CallConnector {
    public let baseURL: String
    let client: ConnectorHTTP

    public init(baseURL: String, token: String, http: HTTPClient) {
        self.baseURL = BaseURL.trimmed(baseURL)
        self.client = ConnectorHTTP(http: http, vendor: "grain", headers: [("Authorization", "Bearer \(token)"), ("Public-Api-Version", "2025-10-31")])
    }

    public var transcriptBatchSize: Int { 1 }

    func recordings(from: Date, to: Date, cursor: String?, participants: Bool) async throws -> (items: [JSONValue], next: String?) {
        let iso = ISO8601DateFormatter()
        var body: [String: JSONValue] = ["filter": ["after_datetime": .string(iso.string(from: from)), "before_datetime": .string(iso.string(from: to))],
                                         "include": ["participants": .bool(participants)]]
        if let cursor { body["cursor"] = .string(cursor) }
        guard let object = try await client.json("POST", "\(baseURL)/v2/recordings", body: .object(body)) else { return ([], nil) }
        guard let recordings = object["recordings"]?.array, let cursor = object["cursor"], cursor == .null || cursor.string != nil else {
            throw JobFailure(.retryable, "grain /v2/recordings: answer without recordings or cursor (an early end of the listing)")
        }
        return (recordings, object["cursor"]?.string)
    }

    public func countCalls(from: Date, to: Date) async throws -> Int? {
        let first = try await recordings(from: from, to: to, cursor: nil, participants: false)
        return first.next == nil ? first.items.count : nil
    }

    public func page(from: Date, to: Date, cursor: String?) async throws -> ImportPage {
        let result = try await recordings(from: from, to: to, cursor: cursor, participants: true)
        let calls = result.items.compactMap { r -> ImportedCall? in
            guard let id = r["id"]?.string else { return nil }
            let people = (r["participants"]?.elements ?? []).map {
                Participant(name: $0["name"]?.string, email: $0["email"]?.string, title: nil,
                            affiliation: $0["scope"]?.string.map { $0.capitalized }, speakerId: $0["id"]?.string)
            }
            return ImportedCall(externalId: id, title: r["title"]?.string, startedAt: r["start_datetime"]?.string.flatMap(Timestamp.parse),
                                durationSeconds: ConnectorHTTP.int(r["duration_ms"]).map { $0 / 1000 }, direction: nil,
                                recordingURL: r["url"]?.string, participants: people, transcript: nil)
        }
        return ImportPage(calls: calls, nextCursor: result.next)
    }

    public func transcripts(from: Date, to: Date, callIds: [String]) async throws -> [String: [TranscriptSegment]] {
        var result: [String: [TranscriptSegment]] = [:]
        for id in callIds {
            guard let items = try await client.json("GET", "\(baseURL)/v2/recordings/\(id.urlQueryEscaped)/transcript")?.array else { continue }
            result[id] = items.compactMap { item in
                guard let text = item["text"]?.string else { return nil }
                return TranscriptSegment(speaker: item["speaker"]?.string, startMs: ConnectorHTTP.int(item["start"]) ?? 0,
                                         endMs: ConnectorHTTP.int(item["end"]) ?? 0, text: text)
            }
        }
        return result
    }
}
