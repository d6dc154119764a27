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

    static func iso(_ date: Date) -> String { Timestamp.string(date) }

    /// Sends a request; nil for 404 (no calls), the JSON object for 2xx, a JobFailure otherwise.
    private func call(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> JSONValue? {
        guard let answer = try await ConnectorHTTP(http: http, vendor: "gong", headers: [("Authorization", authorization)])
            .json(method, baseURL + path, body: body) else { return nil }
        guard answer.object != nil else { throw JobFailure(.retryable, "gong \(path): response is not a JSON object") }
        return answer
    }

    public func countCalls(from: Date, to: Date) async throws -> Int? {
        let query = "fromDateTime=\(Self.iso(from).urlQueryEscaped)&toDateTime=\(Self.iso(to).urlQueryEscaped)"
        guard let object = try await call("GET", "/v2/calls?\(query)") else { return 0 } // 404: "No calls found"
        // A count that is missing or absurd is a bad answer, not "no calls".
        guard let total = Self.int(object["records"]?["totalRecords"]), (0...10_000_000).contains(total) else {
            throw JobFailure(.retryable, "gong /v2/calls: records.totalRecords missing or out of range")
        }
        return total
    }

    public func page(from: Date, to: Date, cursor: String?) async throws -> ImportPage {
        var body: [String: JSONValue] = [
            "filter": ["fromDateTime": .string(Self.iso(from)), "toDateTime": .string(Self.iso(to))],
            "contentSelector": ["exposedFields": ["parties": true, "media": true]],
        ]
        if let cursor { body["cursor"] = .string(cursor) }
        guard let object = try await call("POST", "/v2/calls/extensive", body: .object(body)) else { return ImportPage(calls: [], nextCursor: nil) }
        // A page without its records or calls would end the listing chain early: a bad answer, retried.
        guard let list = object["calls"]?.array, Self.pageSize(object) != nil else {
            throw JobFailure(.retryable, "gong /v2/calls/extensive: answer without calls or a usable records block")
        }
        let calls = list.compactMap(Self.parseCall)
        return ImportPage(calls: calls, nextCursor: object["records"]?["cursor"]?.string)
    }

    public func transcripts(from: Date, to: Date, callIds: [String]) async throws -> [String: [TranscriptSegment]] {
        let body: JSONValue = ["filter": ["fromDateTime": .string(Self.iso(from)), "toDateTime": .string(Self.iso(to)), "callIds": .array(callIds.map(JSONValue.string))]]
        guard let object = try await call("POST", "/v2/calls/transcript", body: body) else { return [:] }
        guard let entries = object["callTranscripts"]?.array, Self.pageSize(object) != nil else {
            throw JobFailure(.retryable, "gong /v2/calls/transcript: answer without callTranscripts or a usable records block")
        }
        var result: [String: [TranscriptSegment]] = [:]
        for entry in entries {
            guard let id = entry["callId"]?.string else { continue }
            var segments: [TranscriptSegment] = []
            for monologue in entry["transcript"]?.elements ?? [] {
                let speaker = monologue["speakerId"]?.string
                for sentence in monologue["sentences"]?.elements ?? [] {
                    guard let text = sentence["text"]?.string else { continue }
                    segments.append(TranscriptSegment(speaker: speaker, startMs: Self.int(sentence["start"]) ?? 0,
                                                      endMs: Self.int(sentence["end"]) ?? 0, text: text))
                }
            }
            result[id] = segments
        }
        return result
    }

    static func int(_ value: JSONValue?) -> Int? { ConnectorHTTP.int(value) }

    /// The answer's `records.currentPageSize` when it is a page Gong could have sent (0-100 records).
    static func pageSize(_ object: JSONValue) -> Int? {
        guard let size = int(object["records"]?["currentPageSize"]), (0...100).contains(size) else { return nil }
        return size
    }

    /// Gong documents ISO-8601 dates but its own examples show epoch numbers: accept both.
    static func date(_ value: JSONValue?) -> Date? {
        if let text = value?.string { return Timestamp.parse(text) }
        if let n = int(value) { return Date(timeIntervalSince1970: Double(n > 100_000_000_000 ? n / 1000 : n)) }
        return nil
    }

    static func parseCall(_ call: JSONValue) -> ImportedCall? {
        guard let meta = call["metaData"], meta.object != nil, let id = meta["id"]?.string ?? int(meta["id"]).map(String.init) else { return nil }
        let parties = (call["parties"]?.elements ?? []).map {
            Participant(name: $0["name"]?.string, email: $0["emailAddress"]?.string, title: $0["title"]?.string,
                        affiliation: $0["affiliation"]?.string, speakerId: $0["speakerId"]?.string)
        }
        let media = call["media"]
        return ImportedCall(externalId: id, title: meta["title"]?.string, startedAt: date(meta["started"]) ?? date(meta["scheduled"]),
                            durationSeconds: int(meta["duration"]), direction: meta["direction"]?.string,
                            recordingURL: (media?["videoUrl"] ?? media?["audioUrl"])?.string, participants: parties, transcript: nil)
    }
}

extension String {
    /// Percent-escaped for a query string value.
    var urlQueryEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? self
    }
}
