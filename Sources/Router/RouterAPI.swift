import Foundation
import Hummingbird
import Metrics
import Observability
import Routing

/// The router's JSON decision API for dialers and integrations: `POST /v1/route` with a tenant's
/// API key (`Authorization: Bearer …`). Errors are `{"error": …}` with 400 / 401 / 409.
struct RouterAPI: Sendable {
    let service: RouteService
    let defaultCountryCode: String
    let decisionTime = Timer(label: "switchboard_route_decision_seconds", preferredDisplayUnit: .seconds)

    typealias Failure = JSONFailure

    static func json(_ status: HTTPResponse.Status, _ object: Any) -> Response { JSONFailure.json(status, object) }

    func routes(into router: Router<BasicRequestContext>) {
        router.post("/v1/route") { request, _ -> Response in
            do {
                guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                      let tenant = try await service.tenant(apiKey: String(header.dropFirst(7))) else {
                    throw Failure(.unauthorized, "missing or unknown API key")
                }
                let body = try await request.body.collect(upTo: 64 * 1024)
                guard let call = try? JSONDecoder().decode(RouteService.Call.self, from: Data(buffer: body)) else {
                    throw Failure(.badRequest, "body must be JSON like {\"callId\": \"…\", \"caller\": \"+15551234567\", \"called\": \"+15550000000\"}")
                }
                let routed = try await service.route(call, tenant: tenant, defaultCountryCode: defaultCountryCode)
                decisionTime.recordMicroseconds(routed.micros)
                var answer: [String: Any] = ["decisionId": routed.decisionId, "callId": call.callId, "caller": routed.caller.e164,
                                             "rule": routed.decision.rule, "fallbacks": routed.decision.fallbacks, "serverMicros": routed.micros]
                switch routed.decision.action {
                case .dial(let dialer, let target): answer["dialer"] = dialer; answer["target"] = target
                case .menu: answer["menu"] = true
                case .cascade: answer["cascade"] = true
                }
                return Self.json(.ok, answer)
            } catch let error as RoutingError {
                switch error.code {
                case .invalidInput: throw Failure(.badRequest, error.message)
                case .invalidRules, .unknownDialer: throw Failure(.conflict, error.message)
                }
            }
        }
    }
}
