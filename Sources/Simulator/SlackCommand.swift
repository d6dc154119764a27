import ArgumentParser
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// `simulator slack`: Slack incoming webhooks as documented (api.slack.com/messaging/webhooks):
/// `POST /services/<T>/<B>/<token>` with a JSON body carrying `text` answers 200 `ok`; a bad body
/// 400 `invalid_payload` or `no_text`; an unknown token 404 `no_service`; more than one message a
/// second per webhook 429 with `Retry-After`. Also a generic receiver for callback URLs:
/// `POST /callbacks/<anything>` records body and headers. `GET /_sim/messages` lists everything received.
struct SlackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "slack", abstract: "Simulated Slack incoming webhooks (and a callback receiver).")

    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "The webhook path that exists.") var webhook = "/services/T000/B000/XXXXXXXX"
    @Option(help: "Messages per second per webhook before 429.") var perSecond = 1

    struct Message: Codable, Sendable {
        let path: String
        let body: String
        let headers: [String: String]
        let at: Double
    }

    func run() async throws {
        let received = NIOLockedValueBox<[Message]>([])
        let limiter = VendorLimiter(windows: [VendorLimiter.Window(limit: perSecond, ms: 1000)])
        let router = Router()
        let webhook = self.webhook
        router.post("/services/**") { request, _ -> Response in
            guard request.uri.path == webhook else { return Self.text(404, "no_service") }
            if case .rateLimited(let seconds) = limiter.admit().verdict {
                var response = Self.text(429, "rate_limited")
                response.headers[.retryAfter] = String(seconds)
                return response
            }
            let body = try await request.body.collect(upTo: 1 << 20)
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else { return Self.text(400, "invalid_payload") }
            guard let text = object["text"] as? String, !text.isEmpty else { return Self.text(400, "no_text") }
            received.withLockedValue { $0.append(Message(path: request.uri.path, body: text, headers: [:], at: Date().timeIntervalSince1970)) }
            return Self.text(200, "ok")
        }
        router.post("/callbacks/**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            received.withLockedValue { $0.append(Message(path: request.uri.path, body: String(buffer: body), headers: headers, at: Date().timeIntervalSince1970)) }
            return Self.text(200, "ok")
        }
        router.get("/_sim/messages") { _, _ -> Response in
            let data = try JSONEncoder().encode(received.withLockedValue { $0 })
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        try await SimulatorServer.run(router, port: port, portFile: portFile)
    }

    static func text(_ status: Int, _ body: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
