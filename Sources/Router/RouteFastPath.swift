import Foundation
import HTTPTypes
import Metrics
import NIOCore
import NIOHTTPTypes
import Observability
import Redis
import Routing

/// `POST /v1/route`, answered inside the HTTP channel pipeline on the connection's event loop:
/// parse, one Redis pipeline on the same loop, decide, audit, respond — no hop to another
/// thread. Every other request passes through to the Hummingbird router unchanged. Responses
/// keep the order of requests on a keep-alive connection (HTTP/1.1 pipelining): a request
/// waits while an earlier one on the same connection is still being answered.
final class RouteFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let path = "/v1/route"
    static let maxBody = 64 * 1024

    private let api: RouteAPI
    /// Parts not yet handled because an earlier request is still being answered.
    private var queued = CircularBuffer<HTTPRequestPart>()
    /// Requests handed to Hummingbird whose response has not ended yet.
    private var passedThrough = 0
    private enum State { case idle, passing, collecting(HTTPRequest, ByteBuffer, tooLarge: Bool), routing }
    private var state = State.idle

    init(api: RouteAPI) { self.api = api }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        queued.append(unwrapInboundIn(data))
        drain(context: context)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            context.write(data, promise: promise)
            passedThrough -= 1
            if passedThrough == 0 { context.eventLoop.assumeIsolated().execute { self.drain(context: context) } }
            return
        }
        context.write(data, promise: promise)
    }

    /// Hummingbird's async channel takes parts in when a read completes: parts forwarded later
    /// (after a fast-path answer) are followed by a read-complete of their own.
    private func drain(context: ChannelHandlerContext) {
        var forwarded = false
        defer { if forwarded { context.fireChannelReadComplete() } }
        while let part = queued.first {
            switch (state, part) {
            case (.idle, .head(let head)):
                if head.method == .post, head.path?.split(separator: "?").first == Substring(Self.path) {
                    guard passedThrough == 0 else { return } // answer after the earlier response
                    state = .collecting(head, context.channel.allocator.buffer(capacity: 256), tooLarge: false)
                } else {
                    state = .passing
                    passedThrough += 1
                    forwarded = true
                    context.fireChannelRead(wrapInboundOut(part))
                }
            case (.passing, .end):
                state = .idle
                forwarded = true
                context.fireChannelRead(wrapInboundOut(part))
            case (.passing, _):
                forwarded = true
                context.fireChannelRead(wrapInboundOut(part))
            case (.collecting(let head, var body, let tooLarge), .body(var chunk)):
                state = .routing // no copy-on-write of `body` while we append
                let over = tooLarge || body.readableBytes + chunk.readableBytes > Self.maxBody
                if !over { body.writeBuffer(&chunk) }
                state = .collecting(head, body, tooLarge: over)
            case (.collecting(let head, let body, let tooLarge), .end):
                state = .routing
                queued.removeFirst()
                respond(context: context, head: head, body: body, tooLarge: tooLarge)
                continue
            case (.routing, _):
                return
            default:
                // A part out of order (a body before a head): the connection is confused.
                context.close(promise: nil)
                return
            }
            queued.removeFirst()
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequest, body: ByteBuffer, tooLarge: Bool) {
        let keepAlive = head.headerFields[.connection]?.lowercased() != "close"
        let answer: EventLoopFuture<(HTTPResponse.Status, [UInt8])> = tooLarge
            ? context.eventLoop.makeSucceededFuture((.contentTooLarge, JSONFailure.body("body is larger than \(Self.maxBody) bytes")))
            : api.answer(authorization: head.headerFields[.authorization], body: body, on: context.eventLoop)
        answer.assumeIsolated().whenSuccess { status, bytes in
            var response = HTTPResponse(status: status)
            response.headerFields[.contentType] = "application/json; charset=utf-8"
            response.headerFields[.contentLength] = String(bytes.count)
            if !keepAlive { response.headerFields[.connection] = "close" }
            context.write(self.wrapOutboundOut(.head(response)), promise: nil)
            context.write(self.wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: bytes))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            guard keepAlive else { context.close(promise: nil); return }
            self.state = .idle
            self.drain(context: context)
        }
    }
}

/// The JSON decision API's logic (auth, body, status codes), shared by the fast path.
/// Errors are `{"error": …}` with 400 / 401 / 409 / 503.
struct RouteAPI: Sendable {
    let service: RouteService
    let defaultCountryCode: String
    let decisionTime = Timer(label: "switchboard_route_decision_seconds", preferredDisplayUnit: .seconds)
    let failures = Counter(label: "switchboard_route_failures_total")

    func answer(authorization: String?, body: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<(HTTPResponse.Status, [UInt8])> {
        guard let header = authorization, header.hasPrefix("Bearer "), header.count > 7 else {
            return loop.makeSucceededFuture((.unauthorized, JSONFailure.body("missing or unknown API key")))
        }
        return service.tenant(apiKey: String(header.dropFirst(7)), on: loop).flatMap { tenant in
            guard let tenant else { return loop.makeSucceededFuture((.unauthorized, JSONFailure.body("missing or unknown API key"))) }
            guard let call = Self.call(body) else {
                return loop.makeSucceededFuture((.badRequest, JSONFailure.body(
                    "body must be JSON like {\"callId\": \"…\", \"caller\": \"+15551234567\", \"called\": \"+15550000000\"}")))
            }
            return service.route(call, tenant: tenant, defaultCountryCode: defaultCountryCode, on: loop).map { routed in
                decisionTime.recordMicroseconds(routed.micros)
                return (.ok, Self.encode(routed, callId: call.callId))
            }
        }.flatMapErrorThrowing { error in
            switch error {
            case let error as RoutingError:
                return (error.code == .invalidInput ? .badRequest : .conflict, JSONFailure.body(error.message))
            default:
                failures.increment()
                return (.serviceUnavailable, JSONFailure.body("routing store unavailable: \(error)"))
            }
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
