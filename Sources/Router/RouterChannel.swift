import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1 child channel with `RouteWire` in front of the HTTP codec, so plain
/// `POST /v1/route` requests never reach the codec.
struct RouterChannel: ServerChildChannel {
    let http: HTTP1Channel
    let api: RouteAPI

    /// A server builder for `Application(server:)`.
    static func builder(api: RouteAPI, configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in RouterChannel(http: HTTP1Channel(responder: responder, configuration: configuration), api: api) }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(RouteWire(api: api)) }
            .flatMap { http.setup(channel: channel, logger: logger) }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }
}
