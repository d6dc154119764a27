import NIOCore

/// Commands sent together and the promise their replies complete, in order.
public struct RedisRequest: Sendable {
    public let commands: [[String]]
    public let promise: EventLoopPromise<[RedisValue]>
    /// May wait up to `RedisPipelineHandler.lazyFlush` to share a flush with later commands.
    public var lazy = false
}

/// One non-blocking Redis connection's protocol: encodes requests, decodes RESP replies and
/// matches them to requests in order. Requests made in the same event-loop tick are encoded into
/// one buffer and go out in one write (automatic pipelining: concurrent callers share round
/// trips). A lazy request (an audit append) goes out with the next flush, or after `lazyFlush` at
/// the latest, so it costs Redis no read and write of its own. A request without an answer in
/// `timeout` fails and closes the connection, failing the rest (one sweep timer per connection,
/// not one timer per request).
final class RedisPipelineHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let request: RedisRequest
        var replies: [RedisValue]
        let deadline: NIODeadline
    }

    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    /// Received bytes not yet decoded (a reply split across reads).
    private var inbound: ByteBuffer?
    /// Encoded commands not yet written, and the write promises that wait on them.
    private var outbound: ByteBuffer?
    private var outboundPromises: [EventLoopPromise<Void>] = []
    private var flushScheduled = false
    private var lazyFlushScheduled = false
    private var sweep: Scheduled<Void>?
    private let timeout: TimeAmount
    static let lazyFlush = TimeAmount.microseconds(500)

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) { scheduleSweep(context: context) }

    private func scheduleSweep(context: ChannelHandlerContext) {
        let every = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 1_000_000))
        sweep = context.eventLoop.assumeIsolated().scheduleTask(in: every) { [weak self] () -> Void in
            guard let self else { return }
            if let oldest = self.pending.first, oldest.deadline < .now() {
                self.failAll(RedisError(.timeout, "no reply within \(self.timeout.nanoseconds / 1_000_000) ms"))
                context.close(promise: nil)
                return
            }
            self.scheduleSweep(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweep?.cancel()
        failAll(RedisError(.connection, "connection closed"))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !request.commands.isEmpty else { request.promise.succeed([]); promise?.succeed(()); return }
        if outbound == nil { outbound = context.channel.allocator.buffer(capacity: 1024) }
        for command in request.commands { RESPEncoder.write(command, into: &outbound!) }
        if let promise { outboundPromises.append(promise) }
        pending.append(Pending(request: request, replies: [], deadline: .now() + timeout))
        if request.lazy {
            guard !flushScheduled, !lazyFlushScheduled else { return }
            lazyFlushScheduled = true
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.lazyFlush) {
                self.lazyFlushScheduled = false
                self.flush(context: context)
            }
        } else if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute {
                self.flushScheduled = false
                self.flush(context: context)
            }
        }
    }

    func flush(context: ChannelHandlerContext) {
        if let buffer = outbound {
            outbound = nil
            let promises = outboundPromises
            outboundPromises = []
            let written: EventLoopPromise<Void>? = promises.isEmpty ? nil : context.eventLoop.makePromise()
            written?.futureResult.assumeIsolated().whenComplete { result in promises.forEach { $0.completeWith(result) } }
            context.write(wrapOutboundOut(buffer), promise: written)
        }
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if inbound == nil {
            inbound = bytes
        } else {
            if inbound!.readerIndex > 65_536 { inbound!.discardReadBytes() }
            inbound!.writeBuffer(&bytes)
        }
        while let buffer = inbound {
            var rest = buffer
            let value: RedisValue
            do {
                guard let decoded = try RESPDecoder.parse(&rest) else { break }
                value = decoded
            } catch {
                errorCaught(context: context, error: error)
                return
            }
            inbound = rest.readableBytes == 0 ? nil : rest
            guard !pending.isEmpty else {
                context.fireErrorCaught(RedisError(.unexpectedReply, "a reply nobody asked for"))
                context.close(promise: nil)
                return
            }
            pending[pending.startIndex].replies.append(value)
            if pending[pending.startIndex].replies.count == pending[pending.startIndex].request.commands.count {
                let done = pending.removeFirst()
                done.request.promise.succeed(done.replies)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(RedisError(.connection, "\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connection, "connection closed"))
        context.fireChannelInactive()
    }

    private func failAll(_ error: RedisError) {
        while let head = pending.popFirst() { head.request.promise.fail(error) }
    }
}
