import Access
import Curl
import Foundation
import Logging
import Metrics
import Queue
import Routing
import Vault

/// The audit-worker's scheduled jobs on the `audit` queue (ops/schedules.json): partitions
/// ahead and retention (`audit.retain`, daily), and the check of every hash chain
/// (`audit.verify`, daily), which alerts on a break: a critical log line, the
/// `switchboard_audit_chain_breaks` gauge, a failed `audit.verify` action in the user action
/// log and, when SB_SLACK_WEBHOOK_URL is set, a Slack message.
struct AuditJobs: Sendable {
    let log: AuditLog
    let actions: UserActionLog
    let retention: AuditRetention
    let http: HTTPClient
    let slackWebhookURL: String?
    let logger: Logger
    /// The queue the jobs are scheduled on.
    static let queue = "audit"
    let breaks = Gauge(label: "switchboard_audit_chain_breaks")

    var definitions: [JobDefinition] {
        [
            JobDefinition(type: "audit.retain", backoff: Backoff(baseMs: 60_000, capMs: 3_600_000)) { _ in
                let removed = try await retention.run()
                logger.info("audit retention ran", metadata: ["removed": "\(removed)"])
            },
            JobDefinition(type: "audit.verify", backoff: Backoff(baseMs: 60_000, capMs: 3_600_000)) { _ in try await verify() },
        ]
    }

    /// Verifies every chain; records and reports the breaks.
    func verify() async throws {
        let results = try await log.verify().map { ("routing audit", $0) } + actions.verify(all: true).map { ("user actions", $0) }
        let broken = results.filter { $0.1.firstBreak != nil }
        breaks.record(broken.count)
        let system = Principal(userId: 0, name: "system:audit-worker", role: .operator, tenant: nil, via: .cli)
        for (label, result) in broken {
            guard let b = result.firstBreak else { continue }
            let text = "\(label) of \(result.tenant ?? "(installation)"): chain broken at position \(b.seq): \(b.reason)"
            logger.critical("audit chain broken", metadata: ["chain": "\(label)", "tenant": "\(result.tenant ?? "-")", "seq": "\(b.seq)", "reason": "\(b.reason)"])
            try await actions.record(system, "audit.verify", tenant: result.tenant, target: label, outcome: .failed,
                                     detail: ["seq": String(b.seq), "reason": b.reason], source: "audit-worker")
            if let url = slackWebhookURL {
                let body = try JSONEncoder().encode(["text": ":rotating_light: Switchboard audit: \(text). Run `switchboard audit verify` and see docs/security.md."])
                _ = try? await http.send(.json("POST", url, body: String(decoding: body, as: UTF8.self)))
            }
        }
        logger.info("audit chains verified", metadata: ["chains": "\(results.count)", "broken": "\(broken.count)"])
    }
}
