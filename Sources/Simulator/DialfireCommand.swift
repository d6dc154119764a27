import ArgumentParser
import Foundation
import Hummingbird

/// `simulator dialfire`: the Dialfire API parts the router uses, from the open-source clients
/// (little is public): base `/api/`, `Authorization: Bearer <tenant token>`,
/// `GET /api/tenants/{tenant}/lines/stats` (per inbound line: agents ready / busy, calls
/// waiting — the shape is our assumption) and `POST /api/tenants/{tenant}/lines/{line}/callback`
/// (`phoneNumber`, `instant`, `campaignId`, `contactId`). 403 for a bad token, 409 for a
/// conflict. No limit is published: this one allows 10 requests / s (429 + Retry-After).
struct DialfireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dialfire", abstract: "Simulated Dialfire (line stats, callbacks).")

    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "Dialfire tenant id.") var tenant = "demo"
    @Option(help: "Inbound line id.") var line = "inbound-1"
    @Option(help: "Tenant token.") var token = "dialfire-demo-token"
    @Option(help: "Rate limit (e.g. 10/s).") var limit = "10/s"

    func run() async throws {
        let limiter = VendorLimiter(windows: try VendorLimiter.parse(limit))
        let desk = DialerDesk()
        let router = Router()
        SimulatorServer.addControls(router, limiter)
        desk.addControls(router)
        let expected = "Bearer \(token)"
        let tenant = self.tenant, line = self.line

        @Sendable func admit(_ request: Request, _ context: BasicRequestContext) async throws -> Response? {
            guard request.headers[.authorization] == expected else { return SimulatorServer.json(403, ["error": "forbidden"]) }
            guard context.parameters.get("tenant") == tenant else { return SimulatorServer.json(404, ["error": "unknown tenant"]) }
            return try await SimulatorServer.gate(limiter, failure: { status, message in SimulatorServer.json(status, ["error": message]) })
        }

        router.get("/api/tenants/:tenant/lines/stats") { request, context -> Response in
            if let blocked = try await admit(request, context) { return blocked }
            let agents = desk.agents
            return SimulatorServer.json(200, [["line": line, "agents_logged_in": agents.online, "agents_ready": agents.online - agents.onCall,
                                                "agents_busy": agents.onCall, "calls_waiting": 0]])
        }
        router.post("/api/tenants/:tenant/lines/:line/callback") { request, context -> Response in
            if let blocked = try await admit(request, context) { return blocked }
            guard context.parameters.get("line") == line else { return SimulatorServer.json(404, ["error": "unknown line"]) }
            let body = try await request.body.collect(upTo: 16 * 1024)
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                  let phone = object["phoneNumber"] as? String, phone.hasPrefix("+") else {
                return SimulatorServer.json(400, ["error": "phoneNumber (E.164) is required"])
            }
            desk.fileCallback(phone: phone, detail: ["campaignId": "\(object["campaignId"] ?? "")", "instant": "\(object["instant"] ?? "")"])
            return SimulatorServer.json(200, ["success": true])
        }
        try await SimulatorServer.run(router, port: port, portFile: portFile)
    }
}
