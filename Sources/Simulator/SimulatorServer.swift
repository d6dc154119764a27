import ArgumentParser
import Foundation
import HTTPTypes
import Hummingbird

/// What every simulator shares: the control endpoints and how it starts.
enum SimulatorServer {
    /// `POST /_sim/faults` (5xx bursts, latency, outage, dropped records) and `GET /_sim/stats`.
    static func addControls(_ router: Router<BasicRequestContext>, _ limiter: VendorLimiter) {
        router.post("/_sim/faults") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 16)
            guard let faults = try? JSONDecoder().decode(VendorLimiter.Faults.self, from: Data(buffer: body)) else {
                return json(400, ["error": "faults must be JSON like {\"failNext\": 5, \"latencyMs\": 100, \"outage\": false, \"dropRecords\": 2}"])
            }
            limiter.setFaults(faults)
            return Response(status: .noContent)
        }
        router.get("/_sim/stats") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(limiter.stats()))))
        }
    }

    /// Admits a request through the limiter and the faults: nil to go on, or the answer to give.
    static func gate(_ limiter: VendorLimiter, failure: (Int, String) -> Response, rateLimitHeaders: Bool = false) async throws -> Response? {
        let (verdict, latency) = limiter.admit()
        if latency > 0 { try await Task.sleep(for: .milliseconds(latency)) }
        switch verdict {
        case .accept: return nil
        case .fail: return failure(503, "Service temporarily unavailable")
        case .rateLimited(let seconds):
            var response = failure(429, "Rate limit exceeded")
            response.headers[.retryAfter] = String(seconds)
            if rateLimitHeaders, let window = limiter.windows.first {
                response.headers[HTTPField.Name("RateLimit-Limit")!] = String(window.limit)
                response.headers[HTTPField.Name("RateLimit-Remaining")!] = "0"
                response.headers[HTTPField.Name("RateLimit-Reset")!] = String(seconds)
            }
            return response
        }
    }

    static func json(_ status: Int, _ object: Any) -> Response {
        let bytes = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Runs the router on 127.0.0.1:`port`, writing the bound port to `portFile`.
    static func run(_ router: Router<BasicRequestContext>, port: Int, portFile: String?) async throws {
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
                              onServerRunning: { channel in
                                  if let portFile, let bound = channel.localAddress?.port {
                                      try? String(bound).write(toFile: portFile, atomically: true, encoding: .utf8)
                                  }
                              })
        try await app.runService()
    }
}

/// The options every call-platform simulator takes: where it listens and which calls it has.
struct AccountOptions: ParsableArguments {
    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "How many calls the account has.") var calls = 100
    @Option(help: "Seed of the generated data.") var seed: UInt64 = 1
    @Option(help: "First call date (YYYY-MM-DD); calls spread evenly over --days.") var start = "2025-01-01"
    @Option(help: "Days the calls span.") var days = 365

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be within 0-65535") }
        guard (0...10_000_000).contains(calls), days > 0 else { throw ValidationError("--calls must be 0-10000000 and --days positive") }
        guard firstDay != nil else { throw ValidationError("--start must be YYYY-MM-DD") }
    }

    var firstDay: Date? { ISO8601DateFormatter().date(from: start + "T00:00:00Z") }

    /// The account's calls.
    func corpus() -> SimulatedCalls { SimulatedCalls(seed: seed, count: calls, start: firstDay!, days: days) }
}
