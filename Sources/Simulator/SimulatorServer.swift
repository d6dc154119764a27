import ArgumentParser
import Curl
import Foundation
import HTTPTypes
import Hummingbird
import ServerTLS

/// What every simulator shares: the control endpoints and how it starts.
enum SimulatorServer {
    /// `POST /_sim/faults` (5xx bursts, latency, outage, dropped records) and `GET /_sim/stats`.
    static func addControls(_ router: Router<BasicRequestContext>, _ limiter: VendorLimiter) {
        router.post("/_sim/faults") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 16)
            guard let faults = try? JSONDecoder().decode(VendorLimiter.Faults.self, from: Data(buffer: body)),
                  faults.hostile.map(VendorLimiter.hostileKinds.contains) ?? true else {
                return json(400, ["error": "faults must be JSON like {\"failNext\": 5, \"latencyMs\": 100, \"outage\": false, \"dropRecords\": 2, \"hostile\": \"json-nul\", \"hostileNext\": 3} (hostile: \(VendorLimiter.hostileKinds.sorted().joined(separator: ", ")))"])
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
        if let kind = limiter.hostileAnswer() { return hostile(kind) }
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

    /// What a broken or malicious vendor answers (see `VendorLimiter.Faults.hostile`).
    static func hostile(_ kind: String) -> Response {
        func body(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
            Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        switch kind {
        case "retry-after-huge":
            var r = body(Array(#"{"error":"slow down"}"#.utf8), status: .tooManyRequests)
            r.headers[.retryAfter] = "1e16"
            return r
        case "reset-nan":
            var r = body(Array(#"{"error":"slow down"}"#.utf8), status: .tooManyRequests)
            r.headers[.retryAfter] = "nan"
            r.headers[HTTPField.Name("X-RateLimit-Reset")!] = "nan"
            r.headers[HTTPField.Name("RateLimit-Reset")!] = "-inf"
            return r
        case "json-nul":
            return body(Array(#"{"requestId":"a\u0000b","records":{"totalRecords":1e20,"currentPageSize":1e20,"currentPageNumber":-1e308},"calls":[{"metaData":{"id":"c\u0000","title":"t\u0000","started":"2025-01-01T00:00:00Z","duration":1e20}}],"meetings":[],"recordings":[],"users":[],"agent_availabilities":[],"data":{"free":1e20}}"#.utf8))
        case "invalid-utf8":
            return body(Array(#"{"calls":[{"metaData":{"id":""#.utf8) + [0xFF, 0xFE, 0xC0] + Array(#"","title":"x"}}]}"#.utf8))
        case "malformed-json":
            return body(Array(#"{"calls":[{"metaData":{"id":"c1","#.utf8))
        case "huge-body":
            return body([UInt8](repeating: 0x20, count: 10 << 20) + Array("{}".utf8))
        case "absurd-headers":
            var r = body(Array("{}".utf8))
            r.headers[HTTPField.Name("X-Absurd")!] = String(repeating: "a", count: 100_000)
            return r
        default: // slow-drip: one byte every 100 ms, for a minute
            let stream = AsyncStream<ByteBuffer> { continuation in
                Task {
                    for _ in 0..<600 {
                        continuation.yield(ByteBuffer(bytes: [0x20]))
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                    continuation.finish()
                }
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(asyncSequence: stream))
        }
    }

    static func json(_ status: Int, _ object: Any) -> Response {
        let bytes = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The scheme of the URLs a simulator hands out (export files): https when it serves TLS.
    static var scheme: String { (ProcessInfo.processInfo.environment["SB_TLS_CERT_FILE"] ?? "").isEmpty ? "http" : "https" }

    /// Runs the router on 127.0.0.1:`port`, writing the bound port to `portFile`; HTTPS only when
    /// SB_TLS_CERT_FILE and SB_TLS_KEY_FILE are set, as with every Switchboard server.
    static func run(_ router: Router<BasicRequestContext>, port: Int, portFile: String?) async throws {
        let app = Application(router: router, server: try ServerTLS.builder(try ServerTLS.fromEnvironment()),
                              configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
                              onServerRunning: { channel in
                                  if let portFile, let bound = channel.localAddress?.port {
                                      try? String(bound).write(toFile: portFile, atomically: true, encoding: .utf8)
                                  }
                              })
        try await app.runService()
    }
}

/// What a simulator's own outbound calls (the voice front door's webhooks, Braze's change
/// webhook) trust: the system's CAs and the one in SB_TLS_CA_FILE.
func simulatorHTTPClient(maxConnections: Int = 8, timeoutMs: Int = 10_000) -> HTTPClient {
    HTTPClient(maxConnections: maxConnections, timeoutMs: timeoutMs,
               policy: OutboundPolicy.open.trusting(ProcessInfo.processInfo.environment["SB_TLS_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }))
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
