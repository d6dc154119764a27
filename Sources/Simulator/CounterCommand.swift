import ArgumentParser
import Foundation
import Hummingbird

/// `simulator counter`: a rate-limited endpoint like a vendor API's, for limiter tests and benchmarks.
/// `GET|POST /hit` counts requests per fixed window (as vendors count) and answers 429 with
/// `Retry-After` over the limit; `GET /stats` reports what it saw; `GET /status/{code}` answers
/// with that status; `POST /reset` clears the counts.
struct CounterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "counter", abstract: "A rate-limited endpoint that counts requests.")

    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "Requests allowed per window.") var limit = 3
    @Option(help: "Window length in milliseconds.") var windowMs = 1000
    @Option(help: "Milliseconds each /hit takes before answering.") var latencyMs = 0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be within 0-65535") }
        guard limit > 0, windowMs > 0, latencyMs >= 0 else { throw ValidationError("--limit and --window-ms must be positive") }
    }

    func run() async throws {
        let counter = RequestCounter(limit: limit, windowMs: windowMs)
        let router = Router()
        let latency = latencyMs
        let hit: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            if latency > 0 { try await Task.sleep(for: .milliseconds(latency)) }
            let claimedAt = request.headers.first { $0.name.canonicalName == "x-claimed-at" }.flatMap { Int($0.value) }
            if let retryAfter = counter.hit(claimedAtMs: claimedAt) {
                return Response(status: .tooManyRequests, headers: [.retryAfter: String(retryAfter), .contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"errors":["rate limit exceeded"]}"#)))
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
        }
        router.get("/hit", use: hit)
        router.post("/hit", use: hit)
        router.get("/stats") { _, _ -> Response in
            let data = try JSONEncoder().encode(counter.snapshot())
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/reset") { _, _ -> HTTPResponse.Status in counter.reset(); return .noContent }
        router.get("/status/:code") { _, context -> Response in
            guard let code = context.parameters.get("code", as: Int.self), (200...599).contains(code) else {
                return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: "status must be 200-599\n")))
            }
            var headers: HTTPFields = [:]
            if code == 429 { headers[.retryAfter] = "2" }
            return Response(status: .init(code: code), headers: headers)
        }
        try await SimulatorServer.run(router, port: port, portFile: portFile)
    }
}
