import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// The small HTTP server every process runs for operators: `GET /health` (200 when the process
/// can reach what it needs, 503 otherwise, with a reason) and `GET /metrics` (Prometheus text).
public enum OpsServer {
    /// Builds the server as a `Service` for the process's `ServiceGroup`.
    /// `onBound` receives the port actually bound (useful with port 0).
    public static func make(host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger,
                            health: @escaping @Sendable () async -> String?,
                            onBound: @escaping @Sendable (Int) async -> Void = { _ in }) -> some Service {
        let router = Router()
        router.get("/health") { _, _ -> Response in
            if let problem = await health() {
                return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain"],
                                body: .init(byteBuffer: ByteBuffer(string: "unhealthy: \(problem)\n")))
            }
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil),
                           onServerRunning: { channel in await onBound(channel.localAddress?.port ?? port) },
                           logger: logger)
    }
}
