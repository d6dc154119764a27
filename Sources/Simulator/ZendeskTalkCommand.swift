import ArgumentParser
import Foundation
import Hummingbird

/// `simulator zendesk-talk`: the Zendesk Talk API parts the router uses, as documented
/// (developer.zendesk.com/api-reference/voice/talk-api): Basic auth `{email}/token:{api_token}`;
/// `GET /api/v2/channels/voice/stats/current_queue_activity.json`,
/// `GET /api/v2/channels/voice/stats/agents_activity.json`,
/// `POST /api/v2/channels/voice/callback_requests.json`. Limits: Current Queue Activity
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

        router.get("/api/v2/channels/voice/stats/current_queue_activity.json") { request, _ -> Response in
            if let blocked = try await admit(request, queueActivity) { return blocked }
            let agents = desk.agents
            return SimulatorServer.json(200, ["current_queue_activity": [
                "agents_online": agents.online, "calls_waiting": max(0, agents.onCall - agents.online), "callbacks_waiting": 0,
                "average_wait_time": 12, "longest_wait_time": 40]])
        }
        router.get("/api/v2/channels/voice/stats/agents_activity.json") { request, _ -> Response in
            if let blocked = try await admit(request, nil) { return blocked }
            let agents = desk.agents
            let list: [[String: Any]] = (0..<agents.online).map { i in
                ["agent_id": 1000 + i, "name": "Agent \(i + 1)", "agent_state": "online", "call_status": i < agents.onCall ? "on_call" : NSNull(),
                 "via": "client"]
            }
            return SimulatorServer.json(200, ["agents_activity": list, "next_page": NSNull(), "previous_page": NSNull(), "count": list.count])
        }
        router.post("/api/v2/channels/voice/callback_requests.json") { request, _ -> Response in
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
