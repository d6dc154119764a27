import Foundation
import HTTPClient
import Queue

/// Braze's REST API as routing uses it (Bearer REST key): `/users/export/ids` by phone (one phone
/// per request), `/users/export/segment` (asynchronous, newline-delimited JSON files), and
/// `/users/track` (at most 75 attributes and 75 events per request). HTTP failures come back as
/// `JobFailure`s (429 → rate limited with Retry-After / X-RateLimit-Reset, 5xx → retryable).
public struct BrazeClient: Sendable {
    public let http: HTTPClient
    public let baseURL: String
    public let apiKey: String

    /// Most objects of each kind per `/users/track` request.
    public static let trackBatch = 75

    public init(http: HTTPClient, baseURL: String, apiKey: String) {
        self.http = http
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
    }

    var headers: [(String, String)] { [("Authorization", "Bearer \(apiKey)"), ("Content-Type", "application/json")] }

    func post(_ path: String, _ object: [String: Any], timeoutMs: Int? = nil) async throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: object)
        let response = try await http.send(HTTPRequest(method: "POST", url: baseURL + path, headers: headers, body: Array(body),
                                                       connectTimeoutMs: timeoutMs.map { min($0, 500) }, timeoutMs: timeoutMs))
        try Self.check(response, path)
        return (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    static func check(_ response: HTTPResponse, _ what: String) throws {
        var retryAfter = response.retryAfterMs
        if retryAfter == nil, let reset = response.headers.first(where: { $0.0.lowercased() == "x-ratelimit-reset" }).flatMap({ Double($0.1) }) {
            retryAfter = max(1000, Int((reset - Date().timeIntervalSince1970) * 1000))
        }
        if let failure = JobFailure(httpStatus: response.status, retryAfterMs: retryAfter, context: "braze \(what)") { throw failure }
    }

    /// The CRM fields of the user with this phone (custom attributes as text); nil when Braze has no such user.
    public func lead(phone: String, timeoutMs: Int? = nil) async throws -> [String: String]? {
        let answer = try await post("/users/export/ids", ["phone": phone, "fields_to_export": ["external_id", "phone", "custom_attributes"]],
                                    timeoutMs: timeoutMs)
        guard let user = (answer["users"] as? [[String: Any]])?.first else { return nil }
        return Self.fields(user)
    }

    /// A user object's custom attributes as text (numbers and booleans written out).
    public static func fields(_ user: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in (user["custom_attributes"] as? [String: Any]) ?? [:] {
            switch v {
            case let s as String: out[k] = s
            case let n as NSNumber: out[k] = n.stringValue
            default: continue
            }
        }
        return out
    }

    /// Starts a segment export; returns the URL its files appear under.
    public func startSegmentExport(segment: String) async throws -> String {
        let answer = try await post("/users/export/segment", ["segment_id": segment, "fields_to_export": ["external_id", "phone", "custom_attributes"],
                                                              "output_format": "gzip"])
        guard let url = answer["url"] as? String else { throw JobFailure(.retryable, "braze segment export: no url in the answer") }
        return url
    }

    /// The export's file URLs; nil while Braze is still writing them.
    public func exportFiles(_ url: String) async throws -> [String]? {
        let response = try await http.send(HTTPRequest(url: url, timeoutMs: 10_000))
        if response.status == 404 { return nil }
        try Self.check(response, "export listing")
        return (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["files"] as? [String]
    }

    /// One export file: one user per line.
    public func exportFile(_ url: String) async throws -> [[String: Any]] {
        let response = try await http.send(HTTPRequest(url: url, timeoutMs: 60_000))
        try Self.check(response, "export file")
        return String(decoding: response.body, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Sends up to 75 attribute objects and 75 events in one request.
    public func track(attributes: [[String: Any]], events: [[String: Any]]) async throws {
        precondition(attributes.count <= Self.trackBatch && events.count <= Self.trackBatch)
        _ = try await post("/users/track", ["attributes": attributes, "events": events], timeoutMs: 10_000)
    }
}
