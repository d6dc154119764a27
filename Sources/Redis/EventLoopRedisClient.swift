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
        let connection = connections[ObjectIdentifier(eventLoop)] ?? fallback
        let promise = eventLoop.makePromise(of: [RedisValue].self)
        if connection.eventLoop.inEventLoop {
            send(RedisRequest(commands: commands, promise: promise, lazy: lazy), via: connection)
        } else {
            connection.eventLoop.execute { self.send(RedisRequest(commands: commands, promise: promise, lazy: lazy), via: connection) }
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
            channel.write(request, promise: nil)
            return
        }
        if connection.connecting == nil, NIODeadline.now() < connection.failedUntil {
            request.promise.fail(RedisError(.connection, "\(configuration.host):\(configuration.port): unreachable (\(connection.lastError)); retrying shortly"))
            return
        }
        let connecting = connection.connecting ?? connect(connection)
        connecting.whenComplete { result in
            switch result {
            case .success(let channel): channel.write(request, promise: nil)
            case .failure(let error): request.promise.fail(RedisError(.connection, "\(self.configuration.host):\(self.configuration.port): \(error)"))
            }
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
        connection.connecting = future
        future.whenComplete { result in
            connection.connecting = nil
            switch result {
            case .success(let channel): connection.channel = channel
            case .failure(let error):
                connection.lastError = "\(error)"
                connection.failedUntil = .now() + .milliseconds(250)
            }
        }
        return future
    }
}
