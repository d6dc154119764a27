import Basics
import Foundation
import HTTPTypes
import NIOCore
import Observability
import Routing
import RoutingCore

/// `POST /v1/route` answered straight from a connection's bytes, in front of the HTTP codec: a
/// plain request (see `RouteRequestHead`) is parsed in place, decided on the connection's event
/// loop and answered with one write. The first request that is anything else switches the
/// connection to Hummingbird for good: the bytes from that request on go to the HTTP codec
/// unchanged, and `RouteAPI.routes` serves any later route requests there.
///
/// Requests on one connection are answered one at a time, in order (HTTP/1.1 pipelining); bytes
/// that arrive meanwhile wait here, and reading pauses once more than `maxBuffered` wait.
final class RouteWire: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    static let maxBuffered = 1 << 20

    private let api: RouteAPI
    /// How long the bytes of one request may take to arrive (a slow drip is refused with 408).
    private let headTimeoutNanos: UInt64
    /// When the request at the front of the buffer began to arrive (nil: nothing pending).
    private var pendingSince: UInt64?
    /// Bytes received and not yet answered or handed on.
    private var buffer: ByteBuffer?
    /// The connection belongs to Hummingbird now.
    private var passing = false
    /// A request is being decided.
    private var answering = false
    /// `process` is on the stack (an answer given at once must not recurse into it).
    private var processing = false
    /// A read held back while too many bytes wait.
    private var readHeld = false
    /// The server is shutting down: close once the request in hand is answered.
    private var quiescing = false
    private var date = HTTPDate()

    init(api: RouteAPI, headTimeoutMs: Int = 5000) {
        self.api = api
        self.headTimeoutNanos = UInt64(max(1, headTimeoutMs)) * 1_000_000
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if passing { context.fireChannelRead(data); return }
        var bytes = unwrapInboundIn(data)
        if buffer == nil { buffer = bytes } else { buffer!.writeBuffer(&bytes) }
        process(context: context, inRead: true)
    }

    /// The client reads its answers again: answer what waits, then read more.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !passing, context.channel.isWritable { process(context: context, inRead: false) }
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if passing { context.fireChannelReadComplete() }
    }

    func read(context: ChannelHandlerContext) {
        // A client that sends but does not read its answers is not read from either: answers
        // never pile up in memory beyond the socket's buffer.
        if !passing, (buffer?.readableBytes ?? 0) > Self.maxBuffered || !context.channel.isWritable { readHeld = true } else { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // Nothing arrived for the idle timeout: close, unless a decision is on its way out.
            if !answering { context.close(promise: nil) }
            return
        }
        guard !passing, event is ChannelShouldQuiesceEvent else { context.fireUserInboundEventTriggered(event); return }
        quiescing = true
        if !answering { context.close(promise: nil) }
    }

    /// Answers the requests at the front of the buffer, one at a time.
    private func process(context: ChannelHandlerContext, inRead: Bool) {
        guard !processing else { return } // the loop below goes on with the next request
        processing = true
        defer { processing = false }
        while !answering, !passing, context.channel.isWritable, let pending = buffer {
            let parsed = pending.withUnsafeReadableBytes { RouteRequestHead.parse($0, maxBody: RouteAPI.maxBody) }
            switch parsed {
            case .incomplete:
                return waitForTheRest(context: context)
            case .other:
                passing = true
                buffer = nil
                context.fireChannelRead(wrapInboundOut(pending))
                if !inRead { context.fireChannelReadComplete() }
                resumeReading(context: context)
                return
            case .request(let head):
                guard pending.readableBytes >= head.headLength + head.bodyLength,
                      let body = pending.getSlice(at: pending.readerIndex + head.headLength, length: head.bodyLength) else {
                    return waitForTheRest(context: context)
                }
                pendingSince = nil
                let rest = pending.readableBytes - head.headLength - head.bodyLength
                buffer = rest == 0 ? nil : pending.getSlice(at: pending.readerIndex + head.headLength + head.bodyLength, length: rest)
                answering = true
                answer(head, body: body, context: context)
            }
        }
        resumeReading(context: context)
    }

    private func answer(_ head: RouteRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        api.answer(authorization: head.authorization, body: body, on: context.eventLoop) { status, json in
            let close = !head.keepAlive || self.quiescing
            var out = context.channel.allocator.buffer(capacity: 160 + json.count)
            if status == .ok {
                out.writeStaticString("HTTP/1.1 200 OK")
            } else {
                out.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)")
            }
            if status == .tooManyRequests { out.writeStaticString("\r\nretry-after: 1") }
            out.writeStaticString("\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ")
            out.writeString(String(json.count))
            out.writeStaticString("\r\ndate: ")
            self.date.write(into: &out)
            out.writeStaticString(close ? "\r\nconnection: close\r\n\r\n" : "\r\n\r\n")
            out.writeBytes(json)
            self.answering = false
            if close {
                context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(out)), promise: nil)
                context.close(promise: nil)
                return
            }
            // Flushed after the tick: every decision Redis answered in one read is made before
            // the first answer's write system call, not after the writes of those before it.
            context.write(self.wrapOutboundOut(.byteBuffer(out)), promise: nil)
            context.eventLoop.assumeIsolated().execute { context.flush() }
            self.process(context: context, inRead: false)
        }
    }

    /// The request at the front is not all here: note when it began to arrive, or refuse it when
    /// that was longer than the head timeout ago.
    private func waitForTheRest(context: ChannelHandlerContext) {
        let now = Monotonic.nanos()
        if let since = pendingSince {
            if now &- since > headTimeoutNanos { refuseSlowRequest(context: context) }
        } else {
            pendingSince = now
        }
    }

    /// 408 and close: the request took longer than the head timeout to arrive (a slow drip).
    private func refuseSlowRequest(context: ChannelHandlerContext) {
        buffer = nil
        pendingSince = nil
        passing = true // nothing more is read as a request on this connection
        let body = JSONFailure.body("request not received within the timeout")
        var out = context.channel.allocator.buffer(capacity: 160 + body.count)
        out.writeString("HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: \(body.count)\r\nconnection: close\r\n\r\n")
        out.writeBytes(body)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(out)), promise: nil)
        context.close(promise: nil)
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, passing || ((buffer?.readableBytes ?? 0) <= Self.maxBuffered && context.channel.isWritable) else { return }
        readHeld = false
        context.read()
    }
}
