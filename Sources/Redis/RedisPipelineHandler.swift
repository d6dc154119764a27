import NIOCore

/// Commands sent together and the promise their replies complete, in order.
public struct RedisRequest: Sendable {
    public let commands: [[String]]
    public let promise: EventLoopPromise<[RedisValue]>
}

/// Matches replies to requests on one non-blocking connection. Writes made in the same event
/// loop tick go out in one flush, so concurrent callers share round trips (automatic pipelining).
/// A request without an answer in `timeout` fails and closes the connection, failing the rest
/// (one sweep timer per connection, not one timer per request).
final class RedisPipelineHandler: ChannelDuplexHandler {
    typealias InboundIn = RedisValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let request: RedisRequest
        var replies: [RedisValue]
        let deadline: NIODeadline
    }

    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    private var flushScheduled = false
    private var sweep: Scheduled<Void>?
    private let timeout: TimeAmount

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
        var buffer = context.channel.allocator.buffer(capacity: 64 * request.commands.count)
        for command in request.commands { RESPEncoder.write(command, into: &buffer) }
        pending.append(Pending(request: request, replies: [], deadline: .now() + timeout))
        context.write(wrapOutboundOut(buffer), promise: promise)
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute {
                self.flushScheduled = false
                context.flush()
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
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
