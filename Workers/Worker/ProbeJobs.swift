import Foundation
import Curl
import Postgres
import Queue

/// Operational job types every worker runs, for smoke tests, benchmarks and chaos drills:
/// - `noop`: does nothing.
/// - `sleep` `{"ms": 250}`: waits.
/// - `http.call` `{"url": "...", "method": "GET"}`: one request; 429, 5xx and 4xx map to the queue's error classes.
/// - `probe.record` `{"run": "r1", "n": 7}`: an idempotent row in `queue_probe` (a replay bumps `executions`).
public enum ProbeJobs {
    struct Sleep: Decodable { let ms: Int }
    struct Call: Decodable { let url: String; let method: String? }
    struct Record: Decodable { let run: String; let n: Int; let ms: Int? }

    /// The definitions, using the given clients.
    public static func definitions(http: HTTPClient, postgres: PostgresClient) -> [JobDefinition] {
        [
            JobDefinition(type: "noop") { _ in },
            JobDefinition(type: "sleep") { context in
                let p = try JobFailure.decode(Sleep.self, from: context.job.payload)
                guard (0...3_600_000).contains(p.ms) else { throw JobFailure(.fatal, "sleep ms must be within 0-3600000") }
                try await Task.sleep(for: .milliseconds(p.ms))
            },
            JobDefinition(type: "http.call", backoff: Backoff(baseMs: 200, capMs: 30_000)) { context in
                let p = try JobFailure.decode(Call.self, from: context.job.payload)
                var request = HTTPRequest(method: p.method ?? "GET", url: p.url)
                request.headers = [("X-Switchboard-Job", context.job.id), ("X-Claimed-At", String(context.job.claimedAtMs))]
                let response: HTTPResponse
                do {
                    response = try await http.send(request)
                } catch let error as HTTPClientError where error.code == .invalidRequest {
                    throw JobFailure(.fatal, "\(error)")
                }
                if let failure = JobFailure(httpStatus: response.status, retryAfterMs: response.retryAfterMs, context: p.url) {
                    throw failure
                }
            },
            JobDefinition(type: "probe.record") { context in
                let p = try JobFailure.decode(Record.self, from: context.job.payload)
                if let ms = p.ms, ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
                try await postgres.query("""
                    INSERT INTO queue_probe (run, n) VALUES ($1, $2)
                    ON CONFLICT (run, n) DO UPDATE SET executions = queue_probe.executions + 1
                    """, [p.run, String(p.n)])
            },
        ]
    }
}
