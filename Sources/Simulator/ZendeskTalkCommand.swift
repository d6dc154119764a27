import ArgumentParser
import Foundation
import Hummingbird

/// `simulator zendesk-talk`: the Zendesk Talk API parts the router uses, as documented
/// (developer.zendesk.com/api-reference/voice/talk-api): Basic auth `{email}/token:{api_token}`;
/// `GET /api/v2/channels/voice/stats/current_queue_activity`,
/// `GET /api/v2/channels/voice/stats/agents_activity`,
/// `POST /api/v2/channels/voice/callback_requests`, and what other Talk clients read:
/// `GET /api/v2/channels/voice/phone_numbers`, `GET /api/v2/channels/voice/availabilities/{agent_id}`
/// and the omnichannel `GET /api/v2/agent_availabilities` (JSON:API). Every path answers with and
/// without the `.json` suffix, as Zendesk's does; lists take `page` and `per_page`. Limits: Current Queue Activity
/// 2,500 / 5 min, callback requests 30 / 10 min, all Talk 15,000 / 5 min; 429 with Retry-After.
/// Errors are `{"error": …, "description": …}`. Plus the dialer controls of `DialerDesk` and
/// the fault switches (`/_sim/faults`).
struct ZendeskTalkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "zendesk-talk", abstract: "Simulated Zendesk Talk (stats, agents, callbacks).")

    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "Agent email of the API credentials.") var email = "api@demo.example"
    @Option(help: "API token.") var token = "zendesk-demo-token"
    @Option(help: "Limit of all Talk requests (e.g. 15000/5m).") var limit = "15000/5m"
    @Option(help: "Limit of current_queue_activity.") var queueActivityLimit = "2500/5m"
    @Option(help: "Limit of callback requests.") var callbackLimit = "30/10m"

    func run() async throws {
        let all = VendorLimiter(windows: try VendorLimiter.parse(limit))
        let queueActivity = VendorLimiter(windows: try VendorLimiter.parse(queueActivityLimit))
        let callbacks = VendorLimiter(windows: try VendorLimiter.parse(callbackLimit))
        let desk = DialerDesk()
        let expected = "Basic " + Data("\(email)/token:\(token)".utf8).base64EncodedString()
        let router = Router()
        SimulatorServer.addControls(router, all)
        desk.addControls(router)

        @Sendable func failure(_ status: Int, _ message: String) -> Response {
            SimulatorServer.json(status, ["error": status == 429 ? "TooManyRequests" : "ServiceUnavailable", "description": message])
        }
        @Sendable func admit(_ request: Request, _ specific: VendorLimiter?) async throws -> Response? {
            guard request.headers[.authorization] == expected else {
                return SimulatorServer.json(401, ["error": "Couldn't authenticate you"])
            }
            if let blocked = try await SimulatorServer.gate(all, failure: failure) { return blocked }
            if let specific, let blocked = try await SimulatorServer.gate(specific, failure: failure) { return blocked }
            return nil
        }

        /// Registers a route at `path` and at `path.json`.
        func both(_ add: (RouterPath, @escaping @Sendable (Request, BasicRequestContext) async throws -> Response) -> Router<BasicRequestContext>,
                  _ path: String, _ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response) {
            _ = add(RouterPath(path), handler)
            _ = add(RouterPath(path + ".json"), handler)
        }
        /// Zendesk's offset pagination: `page` (from 1) and `per_page` (1-100, default 100), with
        /// `next_page` / `previous_page` as full URLs or null, and the total `count`.
        @Sendable func paged(_ request: Request, _ name: String, _ all: [[String: Any]]) -> Response {
            let q = request.uri.queryParameters
            let perPage = q["per_page"].flatMap { Int(String($0)) } ?? 100
            let page = q["page"].flatMap { Int(String($0)) } ?? 1
            guard (1...100).contains(perPage), page >= 1, page <= 100_000 else {
                return SimulatorServer.json(400, ["error": "InvalidPaginationParameter", "description": "per_page must be 1-100 and page at least 1"])
            }
            let start = min(all.count, (page - 1) * perPage), end = min(all.count, start + perPage)
            let base = "https://acme.zendesk.com\(request.uri.path)"
            func link(_ n: Int) -> Any { "\(base)?page=\(n)&per_page=\(perPage)" }
            return SimulatorServer.json(200, [name: Array(all[start..<end]), "next_page": end < all.count ? link(page + 1) : NSNull(),
                                              "previous_page": page > 1 ? link(page - 1) : NSNull(), "count": all.count])
        }
        both(router.get, "/api/v2/channels/voice/phone_numbers") { request, _ -> Response in
            if let blocked = try await admit(request, nil) { return blocked }
            let numbers: [[String: Any]] = [
                ["id": 360_000_001, "number": "+15550001000", "display_number": "+1 (555) 000-1000", "name": "Sales line", "nickname": "Sales",
                 "country_code": "US", "location": "CA", "toll_free": false, "line_type": "phone", "recorded": true, "transcription": false,
                 "external": false, "sms_enabled": false, "voice_enabled": true, "priority": 0,
                 "capabilities": ["sms": false, "mms": false, "voice": true], "greeting_ids": [], "default_greeting_ids": ["voicemail_en"],
                 "created_at": "2024-01-15T09:00:00Z", "categorised_greetings": ["1": "voicemail_en"]],
            ]
            return paged(request, "phone_numbers", numbers)
        }
        // One route: the parameter takes the ".json" suffix along (Hummingbird cannot tell the two apart).
        router.get("/api/v2/channels/voice/availabilities/:agent") { request, context -> Response in
            if let blocked = try await admit(request, nil) { return blocked }
            let agents = desk.agents
            guard let raw = context.parameters.get("agent"), let id = Int(raw.hasSuffix(".json") ? String(raw.dropLast(5)) : raw),
                  (1000..<1000 + max(agents.online, 1)).contains(id) else {
                return SimulatorServer.json(404, ["error": "RecordNotFound", "description": "Not found"])
            }
            let online = id - 1000 < agents.online
            return SimulatorServer.json(200, ["availability": ["via": "client", "status": online ? "online" : "offline",
                                                               "available": online && id - 1000 >= agents.onCall]])
        }
        both(router.get, "/api/v2/agent_availabilities") { request, _ -> Response in
            if let blocked = try await admit(request, nil) { return blocked }
            let agents = desk.agents
            let data: [[String: Any]] = (0..<agents.online).map { i in
                ["type": "agent_availabilities", "id": String(1000 + i),
                 "attributes": ["agent_status": ["id": "online", "name": "Online", "updated_at": "2026-01-01T00:00:00Z"], "version": 1],
                 "relationships": ["channels": ["data": [["id": "\(1000 + i).talk", "type": "channels"]]]]]
            }
            return SimulatorServer.json(200, ["data": data, "links": ["first": NSNull(), "last": NSNull(), "next": NSNull(), "prev": NSNull()],
                                              "meta": ["has_more": false, "after_cursor": NSNull(), "before_cursor": NSNull()]])
        }
        both(router.get, "/api/v2/channels/voice/stats/current_queue_activity") { request, _ -> Response in
            if let blocked = try await admit(request, queueActivity) { return blocked }
            let agents = desk.agents
            return SimulatorServer.json(200, ["current_queue_activity": [
                "agents_online": agents.online, "calls_waiting": max(0, agents.onCall - agents.online), "callbacks_waiting": 0,
                "average_wait_time": 12, "longest_wait_time": 40]])
        }
        both(router.get, "/api/v2/channels/voice/stats/agents_activity") { request, _ -> Response in
            if let blocked = try await admit(request, nil) { return blocked }
            let agents = desk.agents
            let list: [[String: Any]] = (0..<agents.online).map { i in
                ["agent_id": 1000 + i, "name": "Agent \(i + 1)", "agent_state": "online", "call_status": i < agents.onCall ? "on_call" : NSNull(),
                 "via": "client"]
            }
            return paged(request, "agents_activity", list)
        }
        both(router.post, "/api/v2/channels/voice/callback_requests") { request, _ -> Response in
            if let blocked = try await admit(request, callbacks) { return blocked }
            let body = try await request.body.collect(upTo: 16 * 1024)
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                  let callback = object["callback_request"] as? [String: Any], let phone = callback["requester_phone_number"] as? String,
                  phone.hasPrefix("+"), phone.count >= 8 else {
                return SimulatorServer.json(422, ["error": "RecordInvalid", "description": "callback_request.requester_phone_number must be E.164"])
            }
            desk.fileCallback(phone: phone, detail: ["phone_number_id": "\(callback["phone_number_id"] ?? "")"])
            return SimulatorServer.json(201, ["callback_request": ["requester_phone_number": phone, "status": "pending"]])
        }
        try await SimulatorServer.run(router, port: port, portFile: portFile)
    }
}
