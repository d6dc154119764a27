import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import NIOCore
import Observability
import Routing
import RoutingCore

/// `POST /v1/route`, the JSON decision API: auth, body, status codes. `RouteWire` answers plain
/// requests straight from the socket; connections it hands to Hummingbird reach the same logic
/// through `routes(into:)`. Errors are `{"error": …}` with 400 / 401 / 409 / 413 / 503.
struct RouteAPI: Sendable {
    let service: RouteService
    let defaultCountryCode: String
    /// Loops with a Redis connection of their own (Hummingbird's handlers run off them).
    let loops: any EventLoopGroup
    /// Per-tenant admission (429 for a tenant over its rate on this router).
    let admission: TenantAdmission
    static let maxBody = 64 * 1024
    let decisionTime = Timer(label: "switchboard_route_decision_seconds", preferredDisplayUnit: .seconds)
    let failures = Counter(label: "switchboard_route_failures_total")
    let refused = Counter(label: "switchboard_route_admission_refused_total")

    func routes(into router: Router<BasicRequestContext>) {
        router.post("/v1/route") { request, _ -> Response in
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: Self.maxBody) } catch {
                throw JSONFailure(.contentTooLarge, "body is larger than \(Self.maxBody) bytes")
            }
            let loop = loops.next()
            let promise = loop.makePromise(of: (HTTPResponse.Status, [UInt8]).self)
            loop.execute { answer(authorization: request.headers[.authorization], body: body, on: loop) { promise.succeed(($0, $1)) } }
            let (status, bytes) = try await promise.futureResult.get()
            var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
            if status == .tooManyRequests { headers[.retryAfter] = "1" }
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    /// The status and JSON body for one request. Call on `loop`; `done` runs there, once.
    func answer(authorization: String?, body: ByteBuffer, on loop: any EventLoop, then done: @escaping (HTTPResponse.Status, [UInt8]) -> Void) {
        guard let header = authorization, header.utf8.count > 7, header.hasPrefix("Bearer ") else {
            return done(.unauthorized, JSONFailure.body("missing or unknown API key"))
        }
        let apiKey = String(header.utf8.dropFirst(7))!
        if let tenant = service.cachedTenant(apiKey: apiKey) { return route(body, tenant: tenant, on: loop, then: done) }
        service.tenant(apiKey: apiKey, on: loop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let tenant): route(body, tenant: tenant, on: loop, then: done)
            case .failure(let error): let (status, body) = failure(error); done(status, body)
            }
        }
    }

    /// The answer once the key is resolved (nil: unknown key).
    private func route(_ body: ByteBuffer, tenant: String?, on loop: any EventLoop, then done: @escaping (HTTPResponse.Status, [UInt8]) -> Void) {
        guard let tenant else { return done(.unauthorized, JSONFailure.body("missing or unknown API key")) }
        if let wait = admission.admit(tenant) {
            refused.increment()
            return done(.tooManyRequests, JSONFailure.body("tenant \(tenant) is over its \(Int(admission.ratePerSecond)) calls per second on this router; retry in \(wait) s"))
        }
        guard let call = Self.call(body) else {
            return done(.badRequest, JSONFailure.body("body must be JSON like {\"callId\": \"…\", \"caller\": \"+15551234567\", \"called\": \"+15550000000\"}"))
        }
        service.route(call, tenant: tenant, defaultCountryCode: defaultCountryCode, on: loop) { result in
            switch result {
            case .success(let routed):
                decisionTime.recordMicroseconds(routed.micros)
                done(.ok, Self.encode(routed, callId: call.callId))
            case .failure(let error): let (status, body) = failure(error); done(status, body)
            }
        }
    }

    /// The status and body for a failed decision.
    private func failure(_ error: any Error) -> (HTTPResponse.Status, [UInt8]) {
        switch error {
        case let error as RoutingError:
            return (error.code == .invalidInput ? .badRequest : .conflict, JSONFailure.body(error.message))
        default:
            failures.increment()
            return (.serviceUnavailable, JSONFailure.body("routing store unavailable: \(error)"))
        }
    }

    /// The call in the body: the flat-object reader first, Foundation's decoder for anything else.
    static func call(_ body: ByteBuffer) -> RouteService.Call? {
        if let members = body.withUnsafeReadableBytes({ FlatJSON.parse($0) }) {
            guard let id = members["callId"], let caller = members["caller"] else { return nil }
            return RouteService.Call(callId: id, caller: caller, called: members["called"])
        }
        return try? JSONDecoder().decode(RouteService.Call.self, from: Data(buffer: body))
    }

    static func encode(_ routed: RouteService.Routed, callId: String) -> [UInt8] {
        var json = JSONText()
        json.object { answer in
            answer.member("decisionId", routed.decisionId)
            answer.member("callId", callId)
            answer.member("caller", routed.caller.e164)
            routed.decision.write(into: &answer)
            answer.member("serverMicros", routed.micros)
        }
        return json.bytes
    }
}
