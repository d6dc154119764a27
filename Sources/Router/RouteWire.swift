import Foundation
import HTTPTypes
import NIOCore
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

    init(api: RouteAPI) { self.api = api }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if passing { context.fireChannelRead(data); return }
        var bytes = unwrapInboundIn(data)
        if buffer == nil { buffer = bytes } else { buffer!.writeBuffer(&bytes) }
        process(context: context, inRead: true)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if passing { context.fireChannelReadComplete() }
    }

    func read(context: ChannelHandlerContext) {
        if !passing, (buffer?.readableBytes ?? 0) > Self.maxBuffered { readHeld = true } else { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !passing, event is ChannelShouldQuiesceEvent else { context.fireUserInboundEventTriggered(event); return }
        quiescing = true
        if !answering { context.close(promise: nil) }
    }

    /// Answers the requests at the front of the buffer, one at a time.
    private func process(context: ChannelHandlerContext, inRead: Bool) {
        guard !processing else { return } // the loop below goes on with the next request
        processing = true
        defer { processing = false }
        while !answering, !passing, let pending = buffer {
            let parsed = pending.withUnsafeReadableBytes { RouteRequestHead.parse($0, maxBody: RouteAPI.maxBody) }
            switch parsed {
            case .incomplete:
                return
            case .other:
                passing = true
                buffer = nil
                context.fireChannelRead(wrapInboundOut(pending))
                if !inRead { context.fireChannelReadComplete() }
                resumeReading(context: context)
                return
            case .request(let head):
                guard pending.readableBytes >= head.headLength + head.bodyLength,
                      let body = pending.getSlice(at: pending.readerIndex + head.headLength, length: head.bodyLength) else { return }
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

    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, passing || (buffer?.readableBytes ?? 0) <= Self.maxBuffered else { return }
        readHeld = false
        context.read()
    }
}
