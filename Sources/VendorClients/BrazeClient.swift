import Basics
import Curl
import Foundation
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
        self.baseURL = BaseURL.trimmed(baseURL)
        self.apiKey = apiKey
    }

    /// One user object of an export (the members routing reads).
    public struct User: Sendable, Decodable, Equatable {
        public let externalId: String?
        public let phone: String?
        /// Custom attributes as text (numbers and booleans written out; lists and objects left out).
        public let attributes: [String: String]

        private enum CodingKeys: String, CodingKey { case externalId = "external_id", phone, customAttributes = "custom_attributes" }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            externalId = try? c.decode(String.self, forKey: .externalId)
            phone = try? c.decode(String.self, forKey: .phone)
            attributes = ((try? c.decode([String: JSONValue].self, forKey: .customAttributes)) ?? [:]).compactMapValues(Self.text)
        }

        /// A string, number or boolean as text; nil for lists, objects and null.
        static func text(_ value: JSONValue) -> String? {
            switch value {
            case .string(let s): return s
            case .bool(let b): return b ? "1" : "0"
            case .int(let i): return String(i)
            case .double(let d): return "\(d)"
            case .null, .array, .object: return nil
            }
        }
    }

    /// One attributes object of `/users/track`: the user by phone, only updated if Braze knows them.
    public struct AttributeUpdate: Sendable, Encodable, Equatable {
        public let phone: String
        public let lastCallOutcome: String
        public let lastCallAt: String
        public let updateExistingOnly = true

        public init(phone: String, lastCallOutcome: String, lastCallAt: String) {
            self.phone = phone
            self.lastCallOutcome = lastCallOutcome
            self.lastCallAt = lastCallAt
        }

        private enum CodingKeys: String, CodingKey {
            case phone, lastCallOutcome = "last_call_outcome", lastCallAt = "last_call_at", updateExistingOnly = "_update_existing_only"
        }
    }

    /// One custom event of `/users/track`.
    public struct Event: Sendable, Encodable, Equatable {
        public let phone: String
        public let name: String
        public let time: String
        public let properties: Properties

        /// What Switchboard reports of a call.
        public struct Properties: Sendable, Encodable, Equatable {
            public let outcome: String
            public let callId: String
            public let dialer: String?
            public let agent: String?
            public let durationSeconds: Int?

            public init(outcome: String, callId: String, dialer: String?, agent: String?, durationSeconds: Int?) {
                self.outcome = outcome
                self.callId = callId
                self.dialer = dialer
                self.agent = agent
                self.durationSeconds = durationSeconds
            }

            private enum CodingKeys: String, CodingKey { case outcome, callId = "call_id", dialer, agent, durationSeconds = "duration_seconds" }
        }

        public init(phone: String, name: String, time: String, properties: Properties) {
            self.phone = phone
            self.name = name
            self.time = time
            self.properties = properties
        }
    }

    var headers: [(String, String)] { [("Authorization", "Bearer \(apiKey)"), ("Content-Type", "application/json")] }

    func post<Body: Encodable>(_ path: String, _ body: Body, timeoutMs: Int? = nil) async throws -> [UInt8] {
        let encoded = try JSONEncoder().encode(body)
        let response = try await http.send(HTTPRequest(method: "POST", url: baseURL + path, headers: headers, body: Array(encoded),
                                                       connectTimeoutMs: timeoutMs.map { min($0, 500) }, timeoutMs: timeoutMs))
        try Self.check(response, path)
        return response.body
    }

    static func check(_ response: HTTPResponse, _ what: String) throws {
        var retryAfter = response.retryAfterMs
        if retryAfter == nil, let reset = response.headers.first(where: { $0.0.lowercased() == "x-ratelimit-reset" }).flatMap({ Double($0.1) }) {
            // An epoch second from the vendor: NaN or absurd values clamp, never trap.
            retryAfter = UntrustedNumber.clampedInt((reset - Date().timeIntervalSince1970) * 1000, to: 1000...HTTPResponse.maxRetryAfterMs)
        }
        if let failure = JobFailure(httpStatus: response.status, retryAfterMs: retryAfter, context: "braze \(what)") { throw failure }
    }

    private struct ExportByIds: Encodable {
        let phone: String
        let fields_to_export = ["external_id", "phone", "custom_attributes"]
    }
    private struct ExportSegment: Encodable {
        let segment_id: String
        let fields_to_export = ["external_id", "phone", "custom_attributes"]
        let output_format = "gzip"
    }
    private struct Users: Decodable { let users: [User]? }
    private struct ExportStarted: Decodable { let url: String? }
    private struct ExportListing: Decodable { let files: [String]? }
    private struct Track: Encodable { let attributes: [AttributeUpdate]; let events: [Event] }

    /// The CRM fields of the user with this phone (custom attributes as text); nil when Braze has no such user.
    public func lead(phone: String, timeoutMs: Int? = nil) async throws -> [String: String]? {
        let body = try await post("/users/export/ids", ExportByIds(phone: phone), timeoutMs: timeoutMs)
        return (try? JSONDecoder().decode(Users.self, from: Data(body)))?.users?.first?.attributes
    }

    /// Starts a segment export; returns the URL its files appear under.
    public func startSegmentExport(segment: String) async throws -> String {
        let body = try await post("/users/export/segment", ExportSegment(segment_id: segment))
        guard let url = (try? JSONDecoder().decode(ExportStarted.self, from: Data(body)))?.url else {
            throw JobFailure(.retryable, "braze segment export: no url in the answer")
        }
        return url
    }

    /// The export's file URLs; nil while Braze is still writing them.
    public func exportFiles(_ url: String) async throws -> [String]? {
        let response = try await http.send(HTTPRequest(url: url, timeoutMs: 10_000))
        if response.status == 404 { return nil }
        try Self.check(response, "export listing")
        return (try? JSONDecoder().decode(ExportListing.self, from: Data(response.body)))?.files
    }

    /// One export file: one user per line (lines that are not a user object are skipped).
    public func exportFile(_ url: String) async throws -> [User] {
        let response = try await http.send(HTTPRequest(url: url, timeoutMs: 60_000))
        try Self.check(response, "export file")
        let decoder = JSONDecoder()
        return response.body.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(User.self, from: Data($0)) }
    }

    /// Sends up to 75 attribute objects and 75 events in one request.
    public func track(attributes: [AttributeUpdate], events: [Event]) async throws {
        guard attributes.count <= Self.trackBatch, events.count <= Self.trackBatch else {
            throw JobFailure(.fatal, "braze /users/track takes at most \(Self.trackBatch) attributes and \(Self.trackBatch) events")
        }
        _ = try await post("/users/track", Track(attributes: attributes, events: events), timeoutMs: 10_000)
    }
}
