import Basics
import Foundation
import Hummingbird
import NIOPosix
import Observability
import Routing
import RoutingCore

/// `POST /v1/calls/{id}/outcome` from dialers (tenant API key): the call's outcome is appended to
/// the outcomes stream, which the crm-worker writes back to Braze in batches of up to 75.
struct OutcomeRoute: Sendable {
    let service: RouteService
    let defaultCountryCode: String

    struct Outcome: Decodable {
        let caller: String
        let outcome: String
        let dialer: String?
        let agent: String?
        let durationSeconds: Int?
    }

    static let outcomes: Set<String> = ["connected", "voicemail", "no_answer", "busy", "failed", "callback_requested", "abandoned"]

    func routes(into router: Router<BasicRequestContext>) {
        router.post("/v1/calls/:id/outcome") { request, context -> Response in
            do { return try await record(request, context) } catch let failure as any HTTPResponseError { throw failure } catch {
                throw JSONFailure(.serviceUnavailable, "outcome could not be queued: \(error)")
            }
        }
    }

    func record(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.count > 7,
              let tenant = try await service.tenant(apiKey: String(header.dropFirst(7)), on: MultiThreadedEventLoopGroup.singleton.next()).get() else {
            throw JSONFailure(.unauthorized, "missing or unknown API key")
        }
        guard let callId = context.parameters.get("id") else { throw JSONFailure(.badRequest, "call id missing") }
        if let problem = UntrustedText.problem(callId, maxBytes: 200) { throw JSONFailure(.badRequest, "call id \(problem)") }
        let body = try await request.body.collect(upTo: 16 * 1024)
        guard let outcome = try? JSONDecoder().decode(Outcome.self, from: Data(buffer: body)) else {
            throw JSONFailure(.badRequest, #"body must be JSON like {"caller": "+15551234567", "outcome": "connected", "agent": "…", "durationSeconds": 42}"#)
        }
        guard Self.outcomes.contains(outcome.outcome) else {
            throw JSONFailure(.badRequest, "outcome must be one of \(Self.outcomes.sorted().joined(separator: ", "))")
        }
        if let seconds = outcome.durationSeconds, !(0...86_400).contains(seconds) { throw JSONFailure(.badRequest, "durationSeconds must be 0-86400") }
        for (name, value) in [("dialer", outcome.dialer), ("agent", outcome.agent)] {
            if let value, let problem = UntrustedText.problem(value, maxBytes: 200, allowEmpty: true) { throw JSONFailure(.badRequest, "\(name) \(problem)") }
        }
        let phone: PhoneNumber
        do { phone = try PhoneNumber(parsing: outcome.caller, defaultCountryCode: defaultCountryCode) } catch let error as RoutingError {
            throw JSONFailure(.badRequest, error.message)
        }
        var json = JSONText()
        json.object { o in
            o.member("tenant", tenant)
            o.member("callId", callId)
            o.member("phone", phone.e164)
            o.member("outcome", outcome.outcome)
            o.member("dialer", outcome.dialer)
            o.member("agent", outcome.agent)
            o.member("durationSeconds", outcome.durationSeconds)
            o.member("at", Int(Date().timeIntervalSince1970 * 1000))
        }
        let reply = try await service.redis.pipeline([["XADD", service.keys.outcomes, "MAXLEN", "~", "1000000", "*", "tenant", tenant, "outcome", json.text]])
        guard let id = reply.first?.string else { throw JSONFailure(.serviceUnavailable, "outcome could not be queued") }
        return JSONFailure.json(.accepted, ["queued": id, "callId": callId])
    }
}
