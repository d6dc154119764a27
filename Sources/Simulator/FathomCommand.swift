import ArgumentParser
import Foundation
import HTTPTypes
import Hummingbird

/// `simulator fathom`: Fathom's external API v1 as documented (developers.fathom.ai): `X-Api-Key`
/// auth, `GET /external/v1/meetings` with `created_after` / `created_before` / `cursor` /
/// `include_transcript`, 10 meetings a page with `next_cursor` (null on the last), integer
/// `recording_id`, `calendar_invitees`, transcript items with `HH:MM:SS` timestamps; 60 requests
/// per 60 s (30 for heavy ones: listings with transcripts) with 429 and `RateLimit-*` headers.
/// `created_after` / `created_before` filter on `created_at` (when the recording was created, at
/// the end of the meeting), and every field the SDK's `Meeting` model requires is present.
struct FathomCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fathom", abstract: "Simulated Fathom API.")

    @OptionGroup var account: AccountOptions
    @Option(help: "The valid API key.") var apiKey = "fathom-api-key"
    @Option(help: "Rate limit of heavy requests (listings with transcripts).") var heavyLimit = "30/m"
    @Option(help: "Rate limit of other requests.") var limit = "60/m"

    func run() async throws {
        let first = account.firstDay!, days = account.days
        let data = account.corpus()
        let heavy = VendorLimiter(windows: try VendorLimiter.parse(heavyLimit))
        let light = VendorLimiter(windows: try VendorLimiter.parse(limit))
        let router = Router()
        SimulatorServer.addControls(router, heavy)
        let apiKey = self.apiKey
        @Sendable func error(_ status: Int, _ message: String) -> Response { SimulatorServer.json(status, ["error": message]) }
        router.get("/external/v1/meetings") { request, _ -> Response in
            let q = request.uri.queryParameters
            let withTranscript = q["include_transcript"] == "true"
            guard request.headers[HTTPField.Name("X-Api-Key")!] == apiKey, !heavy.credentialsRevoked else { return error(401, "Unauthorized") }
            if let refusal = try await SimulatorServer.gate(withTranscript ? heavy : light, failure: error, rateLimitHeaders: true) { return refusal }
            let iso = ISO8601DateFormatter()
            let from = q["created_after"].flatMap { iso.date(from: String($0)) } ?? first
            let to = q["created_before"].flatMap { iso.date(from: String($0)) } ?? first.addingTimeInterval(Double(days) * 86_400)
            let all = data.indices(endedFrom: from, to: to)
            var offset = 0
            if let cursor = q["cursor"] {
                guard let n = Int(String(decoding: Data(base64Encoded: String(cursor)) ?? Data(), as: UTF8.self)), n >= 0, n <= all.count else {
                    return error(400, "invalid cursor")
                }
                offset = n
            }
            let end = min(offset + 10, all.count)
            let items: [[String: Any]] = all[offset..<end].map { i in
                let startAt = data.started(i), stop = startAt.addingTimeInterval(Double(data.duration(i)))
                let people = data.parties(i)
                func domain(_ email: String) -> String { String(email.split(separator: "@").last ?? "") }
                let external = people.contains { $0.affiliation == "External" }
                var item: [String: Any] = [
                    "title": data.title(i), "meeting_title": data.title(i), "recording_id": 100_000 + i,
                    "url": "https://fathom.video/calls/\(100_000 + i)", "share_url": "https://fathom.video/share/\(100_000 + i)",
                    "created_at": iso.string(from: stop), "recording_start_time": iso.string(from: startAt), "recording_end_time": iso.string(from: stop),
                    "scheduled_start_time": iso.string(from: startAt),
                    "scheduled_end_time": iso.string(from: startAt.addingTimeInterval(Double((data.duration(i) / 1800 + 1) * 1800))),
                    "meeting_type": external ? "external" : "internal",
                    "calendar_invitees_domains_type": external ? "one_or_more_external" : "only_internal",
                    "transcript_language": "en",
                    "calendar_invitees": people.map {
                        ["name": $0.name, "email": $0.email, "email_domain": domain($0.email), "is_external": $0.affiliation == "External",
                         "matched_speaker_display_name": $0.name]
                    },
                    "recorded_by": ["name": people[0].name, "email": people[0].email, "email_domain": domain(people[0].email), "team": "Sales"],
                    "default_summary": NSNull(), "action_items": NSNull(), "crm_matches": NSNull(),
                ]
                if withTranscript && !heavy.dropRecord() {
                    let names = Dictionary(uniqueKeysWithValues: people.map { ($0.speakerId, $0) })
                    item["transcript"] = data.transcript(i).flatMap { speaker, sentences in
                        sentences.map { s -> [String: Any] in
                            let t = s.0 / 1000
                            return ["speaker": ["display_name": names[speaker]?.name ?? "Unknown", "matched_calendar_invitee_email": (names[speaker]?.email).map { $0 as Any } ?? NSNull()],
                                    "text": s.2, "timestamp": String(format: "%02d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60)]
                        }
                    }
                }
                return item
            }
            let next: Any = end < all.count ? Data(String(end).utf8).base64EncodedString() : NSNull()
            return SimulatorServer.json(200, ["limit": 10, "next_cursor": next, "items": items])
        }
        try await SimulatorServer.run(router, port: account.port, portFile: account.portFile)
    }
}
