import Basics
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServerTLS
import ServiceLifecycle

/// The operator endpoints every process has: `GET /health` (200 when the process can reach what
/// it needs, 503 with the reason otherwise) and `GET /metrics` (Prometheus text).
public enum OpsServer {
    /// Adds `/health` and `/metrics` to a router (the console and the router add them to their own).
    public static func addRoutes(to router: Router<BasicRequestContext>, registry: PrometheusCollectorRegistry,
                                 health: @escaping @Sendable () async -> String?) {
        router.get("/health") { _, _ -> Response in
            if let problem = await health() {
                return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain"],
                                body: .init(byteBuffer: ByteBuffer(string: "unhealthy: \(problem)\n")))
            }
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    /// The operator endpoints, as a `Service` for a worker's `ServiceGroup`; `routes` adds a
    /// process's own endpoints (the crm-worker's Braze webhook). `onBound` receives the port
    /// actually bound (useful with port 0). With `tls` it serves HTTPS only.
    public static func make(host: String, port: Int, tls: ServerTLS?, registry: PrometheusCollectorRegistry, logger: Logger,
                            health: @escaping @Sendable () async -> String?,
                            onBound: @escaping @Sendable (Int) async -> Void = { _ in },
                            routes: (Router<BasicRequestContext>) -> Void = { _ in }) throws -> some Service {
        let router = Router()
        addRoutes(to: router, registry: registry, health: health)
        routes(router)
        return Application(router: router, server: try ServerTLS.builder(tls),
                           configuration: .init(address: .hostname(host, port: port), serverName: nil),
                           onServerRunning: { channel in await onBound(channel.localAddress?.port ?? port) },
                           logger: logger)
    }
}

/// An error that reaches an HTTP client as `{"error": message}` with its status: every JSON API
/// of Switchboard maps its domain errors to this, in one place.
public struct JSONFailure: HTTPResponseError {
    public let status: HTTPResponse.Status
    public let message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONFailure.json(status, ["error": message])
    }

    /// The bytes of `{"error": message}`, for handlers that write responses themselves.
    public static func body(_ message: String) -> [UInt8] {
        Array((try? JSONEncoder.sorted().encode(["error": message])) ?? Data("{}".utf8))
    }

    /// A JSON response from an `Encodable` value (keys sorted, dates ISO 8601).
    public static func encoded(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        let data = try JSONEncoder.sorted(isoDates: true).encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `encoded` for values that always encode (dictionaries and plain structs of text and numbers).
    public static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        (try? encoded(status, value)) ?? Response(status: .internalServerError, headers: [.contentType: "application/json"],
                                                 body: .init(byteBuffer: ByteBuffer(bytes: body("response could not be encoded"))))
    }
}
