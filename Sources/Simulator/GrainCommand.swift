import Basics
import ArgumentParser
import Foundation
import HTTPTypes
import Hummingbird

/// `simulator grain`: Grain's public API v2 as documented (developers.grain.com): a Bearer token
/// plus `Public-Api-Version: 2025-10-31`; `POST /_/public-api/v2/recordings` with `filter`
/// (`after_datetime`, `before_datetime`), `include.participants` and a body `cursor`, answering
/// `{recordings, cursor}`; `GET /_/public-api/v2/recordings/{id}/transcript` answering a bare array
/// of `{participant_id, speaker, start, end, text}` in milliseconds; 429 with `Retry-After` and
/// `x-ratelimit-*` headers over the limit.
struct GrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grain", abstract: "Simulated Grain API.")

    @OptionGroup var account: AccountOptions
    @Option(help: "The valid token.") var token = "grain-token"
    @Option(help: "Rate limit.") var rateLimit = "30/m"

    static let pageSize = 50

    func uuid(_ i: Int) -> String {
        let hex = String(format: "%012x", 0x5EED_0000_0000 + i)
        return "6f1c2a3b-4d5e-4f60-8a7b-\(hex)"
    }

    func run() async throws {
        let first = account.firstDay!, days = account.days
        let data = account.corpus()
        let limiter = VendorLimiter(windows: try VendorLimiter.parse(rateLimit))
        let router = Router()
        SimulatorServer.addControls(router, limiter)
        let expected = "Bearer \(token)"
        let ids = (0..<account.calls).map(uuid)
        let index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        @Sendable func error(_ status: Int, _ message: String) -> Response { SimulatorServer.json(status, ["error": message]) }
        @Sendable func authorized(_ request: Request) -> Response? {
            guard request.headers[.authorization] == expected, !limiter.credentialsRevoked else { return error(401, "unauthorized") }
            guard request.headers[HTTPField.Name("Public-Api-Version")!] != nil else { return error(400, "Public-Api-Version header is required") }
            return nil
        }
        router.post("/_/public-api/v2/recordings") { request, _ -> Response in
            if let denied = authorized(request) { _ = limiter.admit(); return denied }
            if let refusal = try await SimulatorServer.gate(limiter, failure: error, rateLimitHeaders: true) { return refusal }
            let bytes = try await request.body.collect(upTo: 1 << 20)
            guard let body = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any] else { return error(400, "body must be JSON") }
            let filter = body["filter"] as? [String: Any] ?? [:]
            let from = (filter["after_datetime"] as? String).flatMap(Timestamp.parse) ?? first
            let to = (filter["before_datetime"] as? String).flatMap(Timestamp.parse) ?? first.addingTimeInterval(Double(days) * 86_400)
            let all = data.indices(from: from, to: to)
            var offset = 0
            if let cursor = body["cursor"] as? String {
                guard let n = Int(String(decoding: Data(base64Encoded: cursor) ?? Data(), as: UTF8.self)), n >= 0, n <= all.count else { return error(400, "invalid cursor") }
                offset = n
            }
            let end = min(offset + Self.pageSize, all.count)
            let withParticipants = ((body["include"] as? [String: Any])?["participants"] as? Bool) == true
            let recordings: [[String: Any]] = all[offset..<end].map { i in
                let startAt = data.started(i)
                // Grain's timestamps carry milliseconds.
                var r: [String: Any] = ["id": ids[i], "title": data.title(i), "start_datetime": Timestamp.fractionalString(startAt.addingTimeInterval(0.25)),
                                        "end_datetime": Timestamp.fractionalString(startAt.addingTimeInterval(Double(data.duration(i)) + 0.25)),
                                        "duration_ms": data.duration(i) * 1000, "media_type": "video", "source": "zoom",
                                        "url": "https://grain.com/share/recording/\(ids[i])", "tags": [], "teams": []]
                if withParticipants {
                    r["participants"] = data.parties(i).map { ["id": $0.speakerId, "name": $0.name, "email": $0.email,
                                                               "scope": $0.affiliation.lowercased(), "confirmed_attendee": true] }
                }
                return r
            }
            let next: Any = end < all.count ? Data(String(end).utf8).base64EncodedString() : NSNull()
            return SimulatorServer.json(200, ["recordings": recordings, "cursor": next])
        }
        router.get("/_/public-api/v2/recordings/:id/transcript") { request, context -> Response in
            if let denied = authorized(request) { _ = limiter.admit(); return denied }
            if let refusal = try await SimulatorServer.gate(limiter, failure: error, rateLimitHeaders: true) { return refusal }
            guard let id = context.parameters.get("id"), let i = index[id] else { return error(404, "recording not found") }
            if limiter.dropRecord() { return error(404, "transcript not available") }
            let people = Dictionary(uniqueKeysWithValues: data.parties(i).map { ($0.speakerId, $0.name) })
            let items: [[String: Any]] = data.transcript(i).flatMap { speaker, sentences in
                sentences.map { ["participant_id": speaker, "speaker": people[speaker] ?? "Unknown", "start": $0.0, "end": $0.1, "text": $0.2] }
            }
            let bytes = try JSONSerialization.data(withJSONObject: items)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        try await SimulatorServer.run(router, port: account.port, portFile: account.portFile)
    }
}
