import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// Hummingbird's HTTP/1 child channel with `RouteWire` in front of the HTTP codec, so plain
/// `POST /v1/route` requests never reach the codec.
/// An idle-state handler in front of everything closes connections that send nothing for
/// `idleTimeoutMs` (it sees the bytes of both paths). With `tls`, TLS comes first of all: the
/// connection speaks HTTPS only, and a plain-HTTP client fails the handshake and is closed.
struct RouterChannel: ServerChildChannel {
    let http: HTTP1Channel
    let api: RouteAPI
    let idleTimeoutMs: Int
    let headTimeoutMs: Int
    let tls: NIOSSLContext?

    /// A server builder for `Application(server:)`.
    static func builder(api: RouteAPI, idleTimeoutMs: Int = 30_000, headTimeoutMs: Int = 5000, tls: NIOSSLContext? = nil,
                        configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            RouterChannel(http: HTTP1Channel(responder: responder, configuration: configuration), api: api,
                          idleTimeoutMs: idleTimeoutMs, headTimeoutMs: headTimeoutMs, tls: tls)
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        channel.eventLoop.makeCompletedFuture {
            // Answers waiting for a client that does not read are bounded by this mark: past it
            // RouteWire stops answering and reading on that connection until the client reads.
            try channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            if let tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            }
            try channel.pipeline.syncOperations.addHandlers([
                IdleStateHandler(readTimeout: .milliseconds(Int64(idleTimeoutMs))),
                RouteWire(api: api, headTimeoutMs: headTimeoutMs),
            ])
        }
        .flatMap { http.setup(channel: channel, logger: logger) }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }
}
