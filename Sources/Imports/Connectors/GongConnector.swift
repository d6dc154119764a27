import Basics
import Foundation
import Curl
import Queue

/// Gong's v2 API: validation with `GET /v2/calls`, pages of 100 calls with parties and media
/// URLs from `POST /v2/calls/extensive`, transcripts of up to 100 calls per
/// `POST /v2/calls/transcript`. 404 "No calls found" is an empty result, not an error.
public struct GongConnector: CallConnector {
    public let baseURL: String
    let authorization: String
    let http: HTTPClient

    public init(baseURL: String, accessKey: String, accessKeySecret: String, http: HTTPClient) {
        var base = BaseURL.trimmed(baseURL)
        if base.hasSuffix("/v2") { base.removeLast(3) }
        self.baseURL = base
        self.authorization = "Basic " + Data("\(accessKey):\(accessKeySecret)".utf8).base64EncodedString()
        self.http = http
    }

    public var transcriptBatchSize: Int { 100 }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// Sends a request; nil for 404 (no calls), the JSON object for 2xx, a JobFailure otherwise.
    private func call(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> [String: Any]? {
        guard let answer = try await ConnectorHTTP(http: http, vendor: "gong", headers: [("Authorization", authorization)])
            .json(method, baseURL + path, body: body) else { return nil }
        guard let object = answer as? [String: Any] else { throw JobFailure(.retryable, "gong \(path): response is not a JSON object") }
        return object
    }

    public func countCalls(from: Date, to: Date) async throws -> Int? {
        let query = "fromDateTime=\(Self.iso(from).urlQueryEscaped)&toDateTime=\(Self.iso(to).urlQueryEscaped)"
        guard let object = try await call("GET", "/v2/calls?\(query)") else { return 0 }
        return ((object["records"] as? [String: Any])?["totalRecords"] as? Int) ?? 0
    }

    public func page(from: Date, to: Date, cursor: String?) async throws -> ImportPage {
        var body: [String: Any] = [
            "filter": ["fromDateTime": Self.iso(from), "toDateTime": Self.iso(to)],
            "contentSelector": ["exposedFields": ["parties": true, "media": true]],
        ]
        if let cursor { body["cursor"] = cursor }
        guard let object = try await call("POST", "/v2/calls/extensive", body: body) else { return ImportPage(calls: [], nextCursor: nil) }
        let calls = (object["calls"] as? [[String: Any]] ?? []).compactMap(Self.parseCall)
        return ImportPage(calls: calls, nextCursor: (object["records"] as? [String: Any])?["cursor"] as? String)
    }

    public func transcripts(from: Date, to: Date, callIds: [String]) async throws -> [String: [TranscriptSegment]] {
        let body: [String: Any] = ["filter": ["fromDateTime": Self.iso(from), "toDateTime": Self.iso(to), "callIds": callIds]]
        guard let object = try await call("POST", "/v2/calls/transcript", body: body) else { return [:] }
        var result: [String: [TranscriptSegment]] = [:]
        for entry in object["callTranscripts"] as? [[String: Any]] ?? [] {
            guard let id = entry["callId"] as? String else { continue }
            var segments: [TranscriptSegment] = []
            for monologue in entry["transcript"] as? [[String: Any]] ?? [] {
                let speaker = monologue["speakerId"] as? String
                for sentence in monologue["sentences"] as? [[String: Any]] ?? [] {
                    guard let text = sentence["text"] as? String else { continue }
                    segments.append(TranscriptSegment(speaker: speaker, startMs: Self.int(sentence["start"]) ?? 0,
                                                      endMs: Self.int(sentence["end"]) ?? 0, text: text))
                }
            }
            result[id] = segments
        }
        return result
    }

    static func int(_ value: Any?) -> Int? { ConnectorHTTP.int(value) }

    /// Gong documents ISO-8601 dates but its own examples show epoch numbers: accept both.
    static func date(_ value: Any?) -> Date? {
        if let text = value as? String { return ISO8601DateFormatter().date(from: text) }
        if let n = int(value) { return Date(timeIntervalSince1970: Double(n > 100_000_000_000 ? n / 1000 : n)) }
        return nil
    }

    static func parseCall(_ call: [String: Any]) -> ImportedCall? {
        guard let meta = call["metaData"] as? [String: Any], let id = meta["id"] as? String ?? int(meta["id"]).map(String.init) else { return nil }
        let parties = (call["parties"] as? [[String: Any]] ?? []).map {
            Participant(name: $0["name"] as? String, email: $0["emailAddress"] as? String, title: $0["title"] as? String,
                        affiliation: $0["affiliation"] as? String, speakerId: $0["speakerId"] as? String)
        }
        let media = call["media"] as? [String: Any]
        return ImportedCall(externalId: id, title: meta["title"] as? String, startedAt: date(meta["started"]) ?? date(meta["scheduled"]),
                            durationSeconds: int(meta["duration"]), direction: meta["direction"] as? String,
                            recordingURL: (media?["videoUrl"] ?? media?["audioUrl"]) as? String, participants: parties, transcript: nil)
    }
}

extension String {
    /// Percent-escaped for a query string value.
    var urlQueryEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? self
    }
}
