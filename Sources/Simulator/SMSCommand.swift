import ArgumentParser
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// `simulator sms`: a Twilio-style SMS API (twilio.com/docs/messaging/api/message-resource):
/// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form body `To`, `From`, `Body`, HTTP
/// Basic auth AccountSid:AuthToken → 201 with the message resource; 400 for a missing field
/// (code 21604 / 21603 / 21602), 401 for bad credentials, 429 over 1 message / s.
/// `GET /_sim/messages` lists what was sent.
struct SMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sms", abstract: "Simulated SMS API (Twilio Messages).")

    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "Account SID.") var accountSid = "AC00000000000000000000000000000000"
    @Option(help: "Auth token.") var authToken = "sms-demo-token"
    @Option(help: "Rate limit (e.g. 1/s).") var limit = "1/s"

    struct Sent: Codable, Sendable {
        let sid: String
        let to: String
        let from: String
        let body: String
        let at: Double
    }

    func run() async throws {
        let limiter = VendorLimiter(windows: try VendorLimiter.parse(limit))
        let sent = NIOLockedValueBox<[Sent]>([])
        let router = Router()
        SimulatorServer.addControls(router, limiter)
        let expected = "Basic " + Data("\(accountSid):\(authToken)".utf8).base64EncodedString()
        let account = accountSid
        router.post("/2010-04-01/Accounts/:account/Messages.json") { request, context -> Response in
            guard context.parameters.get("account") == account, request.headers[.authorization] == expected else {
                return SimulatorServer.json(401, ["code": 20003, "message": "Authenticate", "status": 401])
            }
            if let blocked = try await SimulatorServer.gate(limiter, failure: { status, message in
                SimulatorServer.json(status, ["code": status == 429 ? 20429 : 20500, "message": message, "status": status])
            }) { return blocked }
            let body = try await request.body.collect(upTo: 16 * 1024)
            var form: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 {
                    form[String(parts[0])] = String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
                }
            }
            for (field, code) in [("To", 21604), ("From", 21603), ("Body", 21602)] where (form[field] ?? "").isEmpty {
                return SimulatorServer.json(400, ["code": code, "message": "A '\(field)' parameter is required.", "status": 400])
            }
            let message = Sent(sid: "SM" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(), to: form["To"]!,
                               from: form["From"]!, body: form["Body"]!, at: Date().timeIntervalSince1970)
            sent.withLockedValue { $0.append(message) }
            return SimulatorServer.json(201, ["sid": message.sid, "to": message.to, "from": message.from, "body": message.body,
                                              "status": "queued", "account_sid": account])
        }
        router.get("/_sim/messages") { _, _ -> Response in
            let data = try JSONEncoder().encode(sent.withLockedValue { $0 })
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        try await SimulatorServer.run(router, port: port, portFile: portFile)
    }
}
