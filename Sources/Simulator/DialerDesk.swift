import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// What both dialer simulators share: agents (online / on a call), how a call handed to the
/// dialer ends (answered, busy, no-answer, failed — set by tests), and the callbacks filed.
/// Controls: `POST /_sim/agents {"online": 8, "onCall": 3}`, `POST /_sim/answer {"mode": "busy"}`,
/// `POST /_sim/ring` (what the voice front door calls when it dials this dialer: answers
/// `{"status": "completed"}` or the failure), `GET /_sim/callbacks`, `GET /_sim/rings`.
final class DialerDesk: Sendable {
    struct Callback: Codable, Sendable {
        let phone: String
        let detail: [String: String]
        let at: Double
    }

    private struct State {
        var online = 5
        var onCall = 1
        var mode = "answer"
        var rings = 0
        var callbacks: [Callback] = []
    }

    private let state = NIOLockedValueBox(State())
    static let modes: Set<String> = ["answer", "busy", "no-answer", "fail"]

    var agents: (online: Int, onCall: Int) { state.withLockedValue { ($0.online, $0.onCall) } }

    func fileCallback(phone: String, detail: [String: String]) {
        state.withLockedValue { $0.callbacks.append(Callback(phone: phone, detail: detail, at: Date().timeIntervalSince1970)) }
    }

    func addControls(_ router: Router<BasicRequestContext>) {
        router.post("/_sim/agents") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 4096)
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Int], let online = object["online"],
                  online >= 0, (object["onCall"] ?? 0) >= 0 else {
                return SimulatorServer.json(400, ["error": "body must be JSON like {\"online\": 8, \"onCall\": 3}"])
            }
            self.state.withLockedValue { $0.online = online; $0.onCall = min(online, object["onCall"] ?? 0) }
            return Response(status: .noContent)
        }
        router.post("/_sim/answer") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 4096)
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: String], let mode = object["mode"],
                  Self.modes.contains(mode) else {
                return SimulatorServer.json(400, ["error": "body must be JSON like {\"mode\": \"answer\"} (answer, busy, no-answer, fail)"])
            }
            self.state.withLockedValue { $0.mode = mode }
            return Response(status: .noContent)
        }
        router.post("/_sim/ring") { _, _ -> Response in
            let mode = self.state.withLockedValue { s -> String in s.rings += 1; return s.mode }
            let status = ["answer": "completed", "busy": "busy", "no-answer": "no-answer", "fail": "failed"][mode] ?? "failed"
            return SimulatorServer.json(200, ["status": status])
        }
        router.get("/_sim/callbacks") { _, _ -> Response in
            let data = try JSONEncoder().encode(self.state.withLockedValue { $0.callbacks })
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/_sim/rings") { _, _ -> Response in
            SimulatorServer.json(200, ["rings": self.state.withLockedValue { $0.rings }])
        }
    }
}
