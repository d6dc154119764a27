import Basics
import ArgumentParser
import Foundation
import Hummingbird

/// `simulator gong`: Gong's v2 call API as documented (help.gong.io apidocs): Basic auth with an
/// access key and secret, `GET /v2/calls`, `POST /v2/calls/extensive`, `POST /v2/calls/transcript`
/// (`fromDateTime` and `toDateTime` each optional: from the first call, up to now; ISO-8601 with an
/// offset or Z, fractional seconds allowed), `GET /v2/users`, `GET /v2/settings/scorecards`,
/// 100 records a page with `records.cursor` present only when more remain, 404 "No calls found"
/// for an empty window, `{"requestId","errors"}` error bodies, and 3 requests/s + 10,000/day with
/// 429 and `Retry-After`. `POST /_sim/faults` injects 5xx bursts, latency or an outage;
/// `GET /_sim/stats` reports what the simulator saw.
struct GongCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gong", abstract: "Simulated Gong API.")

    @OptionGroup var account: AccountOptions
    @Option(help: "Access key.") var accessKey = "gong-access-key"
    @Option(help: "Access key secret.") var accessKeySecret = "gong-secret"
    @Option(help: "Rate limit, vendor-counted in fixed windows.") var rateLimit = "3/s,10000/d"

    func validate() throws {
        do { _ = try VendorLimiter.parse(rateLimit) } catch { throw ValidationError("\(error)") }
    }

    func run() async throws {
        let data = account.corpus()
        let limiter = VendorLimiter(windows: try VendorLimiter.parse(rateLimit))
        let expectedAuth = "Basic " + Data("\(accessKey):\(accessKeySecret)".utf8).base64EncodedString()
        let router = Router()
        let api = GongAPI(data: data, limiter: limiter)

        SimulatorServer.addControls(router, limiter)

        let guarded: @Sendable (Request, @escaping @Sendable (Request, [String: Any]?) async throws -> Response) async throws -> Response = { request, handler in
            guard request.headers[.authorization] == expectedAuth, !limiter.credentialsRevoked else { _ = limiter.admit(); return GongAPI.error(401, "Access denied") }
            if let refusal = try await SimulatorServer.gate(limiter, failure: GongAPI.error) { return refusal }
            var body: [String: Any]?
            if request.method == .post {
                let bytes = try await request.body.collect(upTo: 1 << 20)
                guard let parsed = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any] else {
                    return GongAPI.error(400, "Malformed request: body must be a JSON object")
                }
                body = parsed
            }
            return try await handler(request, body)
        }
        router.get("/v2/calls") { request, _ in
            try await guarded(request) { request, _ in
                api.listCalls(from: request.uri.queryParameters["fromDateTime"].map(String.init),
                              to: request.uri.queryParameters["toDateTime"].map(String.init),
                              cursor: request.uri.queryParameters["cursor"].map(String.init))
            }
        }
        let directory = GongDirectory(), created = data.start
        router.get("/v2/users") { request, _ in
            try await guarded(request) { request, _ in
                guard let page = directory.users(cursor: request.uri.queryParameters["cursor"].map(String.init), created: created) else {
                    return GongAPI.error(400, "Malformed request: invalid cursor")
                }
                return GongAPI.json(200, ["requestId": GongAPI.requestId(), "records": page.records, "users": page.users])
            }
        }
        router.get("/v2/settings/scorecards") { request, _ in
            try await guarded(request) { _, _ in
                GongAPI.json(200, ["requestId": GongAPI.requestId(), "scorecards": directory.scorecards(created: created)])
            }
        }
        router.post("/v2/calls/extensive") { request, _ in
            try await guarded(request) { _, body in api.extensive(body ?? [:]) }
        }
        router.post("/v2/calls/transcript") { request, _ in
            try await guarded(request) { _, body in api.transcripts(body ?? [:]) }
        }

        try await SimulatorServer.run(router, port: account.port, portFile: account.portFile)
    }
}

/// The endpoints' logic over `SimulatedCalls`, as plain functions returning responses.
struct GongAPI: Sendable {
    let data: SimulatedCalls
    let limiter: VendorLimiter

    /// One page of the calls a request selects, or the answer that ends the request.
    enum Selection {
        case page(ArraySlice<Int>, records: [String: Any])
        case answer(Response)
    }
    static let pageSize = 100

    static func json(_ status: Int, _ object: Any) -> Response { SimulatorServer.json(status, object) }

    static func error(_ status: Int, _ message: String) -> Response {
        json(status, ["requestId": requestId(), "errors": [message]])
    }

    static func requestId() -> String { String(UInt64.random(in: 1...UInt64.max), radix: 36) }

    /// The [from, to) a request asks for: either bound may be left out (from the first call, up
    /// to now), a bound that is there must be an ISO-8601 instant.
    private func window(_ from: String?, _ to: String?) -> (Date, Date)? {
        var start = data.start, end = Date()
        if let from {
            guard let parsed = Timestamp.parse(from) else { return nil }
            start = parsed
        }
        if let to {
            guard let parsed = Timestamp.parse(to) else { return nil }
            end = parsed
        }
        return (start, end)
    }

    private func page(_ indices: [Int], cursor: String?) -> (slice: ArraySlice<Int>, records: [String: Any])? {
        var offset = 0
        if let cursor {
            guard let decoded = Data(base64Encoded: cursor).map({ String(decoding: $0, as: UTF8.self) }),
                  decoded.hasPrefix("offset:"), let n = Int(decoded.dropFirst(7)), n >= 0, n <= indices.count else { return nil }
            offset = n
        }
        let end = min(offset + Self.pageSize, indices.count)
        var records: [String: Any] = ["totalRecords": indices.count, "currentPageSize": end - offset, "currentPageNumber": offset / Self.pageSize]
        if end < indices.count { records["cursor"] = Data("offset:\(end)".utf8).base64EncodedString() }
        return (indices[offset..<end], records)
    }

    /// The page of calls a POST body's filter and cursor select, or the 400/404 answer.
    private func selection(_ body: [String: Any]) -> Selection {
        guard let filter = body["filter"] as? [String: Any] else { return .answer(Self.error(400, "Malformed request: filter is required")) }
        if (filter["fromDateTime"] != nil && !(filter["fromDateTime"] is String)) || (filter["toDateTime"] != nil && !(filter["toDateTime"] is String)) {
            return .answer(Self.error(400, "Malformed request: fromDateTime and toDateTime must be ISO-8601"))
        }
        guard let (from, to) = window(filter["fromDateTime"] as? String, filter["toDateTime"] as? String) else {
            return .answer(Self.error(400, "Malformed request: fromDateTime and toDateTime must be ISO-8601"))
        }
        var indices = data.indices(from: from, to: to)
        if let ids = filter["callIds"] {
            guard let list = ids as? [String], list.count <= 100 else {
                return .answer(Self.error(400, "Malformed request: callIds must be an array of at most 100 strings"))
            }
            let wanted = Set(list.compactMap(data.index(ofId:)))
            indices = indices.filter(wanted.contains)
        }
        return paged(indices, cursor: body["cursor"] as? String)
    }

    /// 404 "No calls found" for an empty selection (Gong's documented quirk), 400 for a bad cursor.
    private func paged(_ indices: [Int], cursor: String?) -> Selection {
        if indices.isEmpty { return .answer(Self.error(404, "No calls found corresponding to the provided filters")) }
        guard let (slice, records) = page(indices, cursor: cursor) else { return .answer(Self.error(400, "Malformed request: invalid cursor")) }
        return .page(slice, records: records)
    }

    func listCalls(from: String?, to: String?, cursor: String?) -> Response {
        guard let (f, t) = window(from, to) else { return Self.error(400, "Malformed request: fromDateTime and toDateTime must be ISO-8601") }
        switch paged(data.indices(from: f, to: t), cursor: cursor) {
        case .answer(let response): return response
        case .page(let slice, let records):
            return Self.json(200, ["requestId": Self.requestId(), "records": records, "calls": slice.map(data.metaData)])
        }
    }

    func extensive(_ body: [String: Any]) -> Response {
        let slice: ArraySlice<Int>, records: [String: Any]
        switch selection(body) {
        case .answer(let response): return response
        case .page(let s, let r): (slice, records) = (s, r)
        }
        let exposed = ((body["contentSelector"] as? [String: Any])?["exposedFields"] as? [String: Any]) ?? [:]
        let calls: [[String: Any]] = slice.map { i in
            var call: [String: Any] = ["metaData": data.metaData(i)]
            if exposed["parties"] as? Bool == true {
                call["parties"] = data.parties(i).map {
                    ["id": $0.id, "name": $0.name, "emailAddress": $0.email, "title": $0.title, "affiliation": $0.affiliation,
                     "speakerId": $0.speakerId, "methods": ["Invitee", "Attendee"]]
                }
            }
            if exposed["media"] as? Bool == true {
                call["media"] = ["audioUrl": "https://media.gong.example/\(data.id(i)).mp3?expires=8h",
                                 "videoUrl": "https://media.gong.example/\(data.id(i)).mp4?expires=8h"]
            }
            return call
        }
        return Self.json(200, ["requestId": Self.requestId(), "records": records, "calls": calls])
    }

    func transcripts(_ body: [String: Any]) -> Response {
        let slice: ArraySlice<Int>, records: [String: Any]
        switch selection(body) {
        case .answer(let response): return response
        case .page(let s, let r): (slice, records) = (s, r)
        }
        let transcripts: [[String: Any]] = slice.filter { _ in !limiter.dropRecord() }.map { i in
            ["callId": data.id(i), "transcript": data.transcript(i).map { speaker, sentences in
                ["speakerId": speaker, "topic": "Discussion", "sentences": sentences.map { ["start": $0.0, "end": $0.1, "text": $0.2] }]
            }]
        }
        return Self.json(200, ["requestId": Self.requestId(), "records": records, "callTranscripts": transcripts])
    }
}
