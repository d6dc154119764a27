import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Redis over non-blocking SwiftNIO channels: one connection per event loop, commands
/// pipelined automatically. For latency-critical paths (the router) that run on an event loop
/// and must not hop to a thread pool; replies complete futures on the caller's event loop.
/// A broken connection is replaced on the next call; for 250 ms after a failed connect, calls
/// fail at once instead of each waiting for a connect timeout.
public final class EventLoopRedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let group: any EventLoopGroup
    /// The loops that have a connection of their own.
    public var eventLoops: [any EventLoop] { connections.values.map(\.eventLoop) }
    private let connections: [ObjectIdentifier: LoopConnection]
    private let fallback: LoopConnection

    /// One event loop's connection; touched only on that loop.
    private final class LoopConnection: @unchecked Sendable {
        let eventLoop: any EventLoop
        var channel: (any Channel)?
        /// The channel's protocol handler, written to directly (no pipeline traversal per request).
        var handler: RedisPipelineHandler?
        var connecting: EventLoopFuture<any Channel>?
        /// After a failed connect, calls fail at once until then (no pile-up behind connect timeouts).
        var failedUntil = NIODeadline.uptimeNanoseconds(0)
        var lastError = ""
        init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }
    }

    /// Creates a client whose connections live on `group`'s event loops (opened lazily).
    public init(_ configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        var map: [ObjectIdentifier: LoopConnection] = [:]
        for loop in group.makeIterator() { map[ObjectIdentifier(loop)] = LoopConnection(eventLoop: loop) }
        self.connections = map
        self.fallback = map.values.first ?? LoopConnection(eventLoop: group.next())
    }

    /// Sends commands in one round trip on `eventLoop`'s connection; error replies come back as
    /// `.error` values. The future completes on `eventLoop`. `lazy` commands may wait up to
    /// 0.5 ms to go out with the next ones (for writes nobody waits on, like audit appends).
    public func pipeline(_ commands: [[String]], on eventLoop: any EventLoop, lazy: Bool = false) -> EventLoopFuture<[RedisValue]> {
        send(.commands(commands), on: eventLoop, lazy: lazy)
    }

    /// `pipeline` for commands already encoded in RESP (`RESPEncoder`), `count` of them: for
    /// large arguments built as bytes (audit batches) that should not become Strings first.
    public func pipeline(encoded: ByteBuffer, count: Int, on eventLoop: any EventLoop, lazy: Bool = false) -> EventLoopFuture<[RedisValue]> {
        send(.encoded(encoded, commands: count), on: eventLoop, lazy: lazy)
    }

    /// `pipeline` for the hot path: call it on `eventLoop`; `done` runs there, once, with no
    /// future in between.
    public func pipeline(_ commands: [[String]], on eventLoop: any EventLoop, then done: @escaping (Result<[RedisValue], any Error>) -> Void) {
        guard let connection = connections[ObjectIdentifier(eventLoop)] else {
            // Not one of our loops: its replies would arrive on another thread.
            pipeline(commands, on: eventLoop).assumeIsolated().whenComplete(done)
            return
        }
        let request = RedisRequest(payload: .commands(commands), completion: .callback(.init(run: done)))
        if eventLoop.inEventLoop { send(request, via: connection) } else { eventLoop.execute { self.send(request, via: connection) } }
    }

    private func send(_ payload: RedisRequest.Payload, on eventLoop: any EventLoop, lazy: Bool) -> EventLoopFuture<[RedisValue]> {
        let connection = connections[ObjectIdentifier(eventLoop)] ?? fallback
        let promise = eventLoop.makePromise(of: [RedisValue].self)
        let request = RedisRequest(payload: payload, completion: .promise(promise), lazy: lazy)
        if connection.eventLoop.inEventLoop {
            send(request, via: connection)
        } else {
            connection.eventLoop.execute { self.send(request, via: connection) }
        }
        return promise.futureResult
    }

    /// `pipeline` for async callers.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisValue] {
        try await pipeline(commands, on: group.next()).get()
    }

    /// Runs a Lua script by SHA, sending its source when Redis answers NOSCRIPT; an error reply
    /// is thrown as `RedisError.server`.
    public func run(_ script: RedisScript, keys: [String], args: [String]) async throws -> RedisValue {
        let loop = group.next()
        var reply = try await pipeline([["EVALSHA", script.sha1, String(keys.count)] + keys + args], on: loop).get()[0]
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            reply = try await pipeline([["EVAL", script.source, String(keys.count)] + keys + args], on: loop).get()[0]
        }
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    /// Closes every connection.
    public func shutdown() async {
        for connection in connections.values {
            let channel = try? await connection.eventLoop.submit { connection.channel }.get()
            try? await channel?.close()
        }
    }

    private func send(_ request: RedisRequest, via connection: LoopConnection) {
        if let channel = connection.channel, channel.isActive {
            if let handler = connection.handler { handler.enqueue(request) } else { channel.write(request, promise: nil) }
            return
        }
        if connection.connecting == nil, NIODeadline.now() < connection.failedUntil {
            request.complete(.failure(RedisError(.connection, "\(configuration.host):\(configuration.port): unreachable (\(connection.lastError)); retrying shortly")))
            return
        }
        let connecting = connection.connecting ?? connect(connection)
        connecting.whenComplete { result in
            switch result {
            case .success(let channel): channel.write(request, promise: nil)
            case .failure(let error): request.complete(.failure(RedisError(.connection, "\(self.configuration.host):\(self.configuration.port): \(error)")))
            }
        }
    }

    /// Sends AUTH first when a password is configured; a refusal closes the channel.
    private func authenticate(_ channel: any Channel) -> EventLoopFuture<any Channel> {
        guard let auth = configuration.authCommand else { return channel.eventLoop.makeSucceededFuture(channel) }
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        channel.write(RedisRequest(payload: .commands([auth]), completion: .promise(promise)), promise: nil)
        let user = configuration.username ?? "default"
        return promise.futureResult.flatMapThrowing { replies in
            if case .error(let message) = replies.first {
                channel.close(promise: nil)
                throw RedisError(.server, "AUTH as \(user) refused: \(message)")
            }
            return channel
        }
    }

    private func connect(_ connection: LoopConnection) -> EventLoopFuture<any Channel> {
        let timeout = TimeAmount.milliseconds(Int64(configuration.commandTimeoutMs))
        let future = ClientBootstrap(group: connection.eventLoop)
            .connectTimeout(.milliseconds(Int64(configuration.connectTimeoutMs)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisPipelineHandler(timeout: timeout))
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMap { channel in self.authenticate(channel) }
        connection.connecting = future
        future.whenComplete { result in
            connection.connecting = nil
            switch result {
            case .success(let channel):
                connection.channel = channel
                connection.handler = try? channel.pipeline.syncOperations.handler(type: RedisPipelineHandler.self)
            case .failure(let error):
                connection.lastError = "\(error)"
                connection.failedUntil = .now() + .milliseconds(250)
            }
        }
        return future
    }
}
