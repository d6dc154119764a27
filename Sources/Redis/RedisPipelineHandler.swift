import NIOCore

/// Commands sent together and what their replies complete, in order.
public struct RedisRequest: Sendable {
    /// Who gets the replies: a promise, or a callback run on the connection's event loop (the
    /// hot path: no future allocated).
    public enum Completion: Sendable {
        case promise(EventLoopPromise<[RedisValue]>)
        case callback(LoopCallback)
    }

    /// A callback that is only ever run on the event loop that made it.
    public struct LoopCallback: @unchecked Sendable {
        let run: (Result<[RedisValue], any Error>) -> Void
    }

    /// The commands as argv, or already in RESP (`RESPEncoder`) with how many commands they hold.
    public enum Payload: Sendable {
        case commands([[String]])
        case encoded(ByteBuffer, commands: Int)
    }

    public let payload: Payload
    public let completion: Completion
    /// May wait up to `RedisPipelineHandler.lazyFlush` to share a flush with later commands.
    public var lazy = false

    /// Hands the replies (or the failure) to whoever waits.
    func complete(_ result: Result<[RedisValue], any Error>) {
        switch completion {
        case .promise(let promise): promise.completeWith(result)
        case .callback(let callback): callback.run(result)
        }
    }

    /// How many replies complete the request.
    var replies: Int {
        switch payload {
        case .commands(let commands): commands.count
        case .encoded(_, let count): count
        }
    }
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
    /// Set while the handler is in its pipeline; `enqueue` writes through it.
    private var context: ChannelHandlerContext?
    private let timeout: TimeAmount
    static let lazyFlush = TimeAmount.microseconds(500)

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        scheduleSweep(context: context)
    }

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
        self.context = nil
        sweep?.cancel()
        failAll(RedisError(.connection, "connection closed"))
    }

    /// Queues a request without a trip through the channel pipeline (the client's hot path);
    /// call on the channel's event loop.
    func enqueue(_ request: RedisRequest) {
        guard let context else { request.complete(.failure(RedisError(.connection, "connection closed"))); return }
        enqueue(request, promise: nil, context: context)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        enqueue(unwrapOutboundIn(data), promise: promise, context: context)
    }

    private func enqueue(_ request: RedisRequest, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        guard request.replies > 0 else { request.complete(.success([])); promise?.succeed(()); return }
        if outbound == nil { outbound = context.channel.allocator.buffer(capacity: 1024) }
        switch request.payload {
        case .commands(let commands): for command in commands { RESPEncoder.write(command, into: &outbound!) }
        case .encoded(let bytes, _): outbound!.writeImmutableBuffer(bytes)
        }
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
            if pending[pending.startIndex].replies.count == pending[pending.startIndex].request.replies {
                let done = pending.removeFirst()
                done.request.complete(.success(done.replies))
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
        while let head = pending.popFirst() { head.request.complete(.failure(error)) }
    }
}
