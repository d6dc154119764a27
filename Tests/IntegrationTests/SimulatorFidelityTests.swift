import Basics
import Curl
import Foundation
import RoutingCore
import Testing
import VendorClients

/// The simulators serve their vendors' documented APIs the way standard clients of those vendors
/// use them, not only the calls our connectors make.
@Suite(.needsServers) struct SimulatorFidelityTests {
    func get(_ url: String, _ headers: [(String, String)] = []) async throws -> (status: Int, json: JSONValue?) {
        let client = HTTPClient(maxConnections: 1)
        let response = try await client.send(HTTPRequest(url: url, headers: headers))
        await client.shutdown()
        return (response.status, try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)))
    }

    static let gongAuth = ("Authorization", "Basic " + Data("gong-access-key:gong-secret".utf8).base64EncodedString())

    @Test func gongServesUsersScorecardsAndOpenEndedWindows() async throws {
        let gong = try await SimulatorProcess("gong", ["--calls", "30", "--seed", "3", "--rate-limit", "100/s"])
        defer { gong.child.kill() }
        // Without toDateTime: every call up to now; without either bound: all of them.
        let open = try await get(gong.url + "/v2/calls?fromDateTime=2025-01-01T00:00:00Z", [Self.gongAuth])
        #expect(open.status == 200)
        #expect(open.json?["calls"]?.array?.count == 30)
        #expect(try await get(gong.url + "/v2/calls", [Self.gongAuth]).json?["records"]?["totalRecords"] == .int(30))
        // Fractional seconds and offsets are ISO-8601 too; garbage is a 400.
        #expect(try await get(gong.url + "/v2/calls?fromDateTime=2025-01-01T00:00:00.500-08:00", [Self.gongAuth]).status == 200)
        #expect(try await get(gong.url + "/v2/calls?fromDateTime=yesterday", [Self.gongAuth]).status == 400)
        // Calls name their user; the user list has them, in Gong's shape.
        let users = try await get(gong.url + "/v2/users", [Self.gongAuth])
        #expect(users.status == 200)
        let list = try #require(users.json?["users"]?.array)
        let ids = Set(list.compactMap { $0["id"]?.string })
        #expect(list.allSatisfy { $0["emailAddress"]?.string?.contains("@") == true && $0["settings"]?.object != nil })
        let primary = open.json?["calls"]?.array?.compactMap { $0["primaryUserId"]?.string } ?? []
        #expect(!primary.isEmpty && primary.allSatisfy(ids.contains))
        // Gong writes times with an offset.
        #expect(open.json?["calls"]?.array?.first?["started"]?.string?.hasSuffix("-08:00") == true)
        let scorecards = try await get(gong.url + "/v2/settings/scorecards", [Self.gongAuth])
        #expect(scorecards.json?["scorecards"]?.array?.first?["questions"]?.array?.isEmpty == false)
        #expect(try await get(gong.url + "/v2/users").status == 401)
    }

    @Test func zendeskAnswersWithAndWithoutTheJSONSuffix() async throws {
        let zendesk = try await SimulatorProcess("zendesk-talk", ["--token", "zd", "--email", "api@acme.example"])
        defer { zendesk.child.kill() }
        try await zendesk.post("/_sim/agents", #"{"online": 3, "onCall": 1}"#)
        let auth = ("Authorization", "Basic " + Data("api@acme.example/token:zd".utf8).base64EncodedString())
        for path in ["/api/v2/channels/voice/phone_numbers", "/api/v2/channels/voice/stats/agents_activity",
                     "/api/v2/channels/voice/stats/current_queue_activity", "/api/v2/agent_availabilities"] {
            let plain = try await get(zendesk.url + path, [auth]), suffixed = try await get(zendesk.url + path + ".json", [auth])
            #expect(plain.status == 200 && suffixed.status == 200, "\(path)")
            #expect(plain.json == suffixed.json || path.hasSuffix("activity"), "\(path)")
        }
        #expect(try await get(zendesk.url + "/api/v2/channels/voice/phone_numbers.json", [auth]).json?["phone_numbers"]?.array?.first?["number"]?.string == "+15550001000")
        #expect(try await get(zendesk.url + "/api/v2/agent_availabilities", [auth]).json?["data"]?.array?.count == 3)
        // Offset pagination as documented: per_page and page, next_page while more remain.
        let first = try await get(zendesk.url + "/api/v2/channels/voice/stats/agents_activity.json?per_page=2", [auth]).json
        #expect(first?["agents_activity"]?.array?.count == 2)
        #expect(first?["count"] == .int(3))
        #expect(first?["next_page"]?.string?.contains("page=2") == true)
        let second = try await get(zendesk.url + "/api/v2/channels/voice/stats/agents_activity.json?per_page=2&page=2", [auth]).json
        #expect(second?["agents_activity"]?.array?.count == 1)
        #expect(second?["next_page"] == .null)
        #expect(try await get(zendesk.url + "/api/v2/channels/voice/phone_numbers?per_page=500", [auth]).status == 400)
        let busy = try await get(zendesk.url + "/api/v2/channels/voice/availabilities/1000.json", [auth])
        #expect(busy.json?["availability"]?["available"] == .bool(false))
        #expect(try await get(zendesk.url + "/api/v2/channels/voice/availabilities/1002", [auth]).json?["availability"]?["available"] == .bool(true))
        #expect(try await get(zendesk.url + "/api/v2/channels/voice/availabilities/9", [auth]).status == 404)
        #expect(try await get(zendesk.url + "/api/v2/channels/voice/phone_numbers").status == 401)
        // Our client reads every page: 250 agents online, 10 of them on a call.
        try await zendesk.post("/_sim/agents", #"{"online": 250, "onCall": 10}"#)
        let http = HTTPClient(maxConnections: 1)
        let integration = RoutingIntegration(tenant: "acme", id: "zendesk", kind: .zendeskTalk, baseURL: zendesk.url, settings: ["email": "api@acme.example"])
        #expect(try await DialerClient(http: http).freeAgents(integration, credentials: "zd") == 240)
        await http.shutdown()
    }

    @Test func fathomMeetingsCarryEveryRequiredFieldAndFilterOnCreatedAt() async throws {
        let fathom = try await SimulatorProcess("fathom", ["--calls", "40", "--seed", "4"])
        defer { fathom.child.kill() }
        let key = ("X-Api-Key", "fathom-api-key")
        let after = "2025-06-01T00:00:00Z"
        let page = try await get(fathom.url + "/external/v1/meetings?created_after=\(after)", [key])
        let items = try #require(page.json?["items"]?.array)
        #expect(!items.isEmpty)
        // The fields fathom-python's Meeting model requires.
        let required = ["title", "meeting_title", "url", "share_url", "created_at", "scheduled_start_time", "scheduled_end_time",
                        "recording_id", "recording_start_time", "recording_end_time", "calendar_invitees_domains_type",
                        "transcript_language", "calendar_invitees", "recorded_by"]
        for item in items { for field in required { #expect(item[field] != nil, "missing \(field)") } }
        #expect(items.allSatisfy { $0["calendar_invitees"]?.array?.allSatisfy { $0["email_domain"]?.string != nil } == true })
        // created_after filters on created_at (the end of the meeting), not on its start.
        let cut = Timestamp.parse(after)!
        #expect(items.allSatisfy { ($0["created_at"]?.string.flatMap(Timestamp.parse) ?? .distantPast) >= cut })
        // A meeting that started before the cut and ended after it is listed.
        let meeting = items[0]
        let started = try #require(meeting["recording_start_time"]?.string.flatMap(Timestamp.parse))
        let midway = Timestamp.string(started.addingTimeInterval(60))
        let listed = try await get(fathom.url + "/external/v1/meetings?created_after=\(midway)", [key]).json?["items"]?.array ?? []
        #expect(listed.first?["recording_id"] == meeting["recording_id"])
    }
}
