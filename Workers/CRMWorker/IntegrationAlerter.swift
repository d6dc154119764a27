import Foundation
import Logging
import Metrics
import Redis
import Routing
import RoutingCore
import VendorClients
import Vault
import ServiceLifecycle

/// The PRD's integration alerts, by email to the tenant's on-call (its `email` integration):
/// an integration (Braze, a dialer) failing more than 5 % of its calls over 5 minutes (at least
/// `minimumCalls`), at most once per 30 minutes each (scenarios 1 and 3, the monitoring NFR); and
/// an integration declared recovered by the shared breaker (scenario 4). Counts come from the
/// breakers' per-minute outcome counters; recoveries from their transition log. Several
/// crm-workers may run: a Redis lock per round lets one of them send.
public struct IntegrationAlerter: Service {
    public let access: TenantAccess
    public let vault: CredentialVault
    public let email: EmailClient
    public let intervalMs: Int
    public let minimumCalls: Int
    let breaker: CircuitBreaker
    let logger = Logger(label: "switchboard.alerts")
    let failedRounds = Counter(label: "switchboard_alert_round_failures_total")

    public init(access: TenantAccess, vault: CredentialVault, email: EmailClient, intervalMs: Int = 15_000, minimumCalls: Int = 20) {
        self.access = access
        self.vault = vault
        self.email = email
        self.intervalMs = intervalMs
        self.minimumCalls = minimumCalls
        self.breaker = CircuitBreaker(keys: access.keys)
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do { try await round() } catch { logger.warning("alert round failed", metadata: ["error": "\(error)"]) }
            await gracefulPause(ms: intervalMs)
        }
    }

    /// One pass over every tenant with an email integration.
    public func round() async throws {
        let redis = access.redis
        guard try await redis.send(["SET", "\(access.keys.prefix):routing:alerts-lock", "1", "NX", "PX", String(max(100, intervalMs - 100))]).string == "OK" else { return }
        let all = try await access.integrations()
        // Each tenant's mailbox on its own and side by side: a broken or slow relay, or a failure
        // for one tenant, is logged and counted, and the others are served this round anyway.
        await withTaskGroup(of: Void.self) { group in
            for mailbox in all where mailbox.kind == .email {
                group.addTask {
                    do {
                        try await round(mailbox, all: all)
                    } catch {
                        failedRounds.increment()
                        logger.warning("alert round failed for one tenant", metadata: ["tenant": "\(mailbox.tenant)", "error": "\(error)"])
                    }
                }
            }
        }
    }

    /// One tenant's alerts: recoveries since the last one mailed, then failure rates.
    func round(_ mailbox: RoutingIntegration, all: [RoutingIntegration]) async throws {
        let redis = access.redis
        let tenant = mailbox.tenant
        // The relay's credentials are opened only when there is something to send.
        var credentials: String?
        func mail(_ subject: String, _ body: String) async throws {
            if credentials == nil { credentials = try await access.credentials(of: mailbox, vault: vault) }
            try await email.send(subject: subject, body: body, integration: mailbox, credentials: credentials ?? "")
        }
        // Recoveries since the last one mailed.
        let seenKey = access.keys.alerts(tenant, "recovered-at")
        let seen = try await redis.send(["GET", seenKey]).int ?? 0
        for t in try await breaker.transitions(tenant: tenant, redis: redis, limit: 200).reversed() where t.to == "up" && t.at > seen {
            let when = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(t.at) / 1000))
            try await mail("Switchboard: \(t.integration) recovered for \(tenant)",
                           "\(t.integration) was declared recovered at \(when) after 3 successful calls in a row.\nRouting to it resumed automatically.\nOutage log: switchboard routing breakers --tenant \(tenant)\n")
            try await redis.send(["SET", seenKey, String(t.at)])
            logger.notice("recovery mailed", metadata: ["tenant": "\(tenant)", "integration": "\(t.integration)"])
        }
        // Failure rates over 5 minutes.
        let watched = Set(all.filter { $0.tenant == tenant && ($0.kind == .zendeskTalk || $0.kind == .dialfire || $0.kind == .braze) }
            .map { $0.kind == .braze ? "braze" : $0.id })
        for integration in watched.sorted() {
            let (calls, failed) = try await breaker.failureRate(tenant: tenant, integration: integration, redis: redis)
            guard calls >= minimumCalls, failed * 100 > calls * 5 else { continue }
            let sentKey = access.keys.alerts(tenant, "rate:\(integration)")
            guard try await redis.send(["SET", sentKey, "1", "NX", "EX", "1800"]).string == "OK" else { continue }
            do {
                let percent = String(format: "%.1f", Double(failed) * 100 / Double(calls))
                try await mail("Switchboard: \(integration) failing for \(tenant) (\(percent)% of calls)",
                               "\(failed) of \(calls) calls to \(integration) failed in the last 5 minutes (threshold 5%).\nHealth and transitions: switchboard routing breakers --tenant \(tenant)\n")
            } catch {
                try await redis.send(["DEL", sentKey]) // not sent: try again next round
                throw error
            }
            logger.notice("failure-rate alert mailed", metadata: ["tenant": "\(tenant)", "integration": "\(integration)", "calls": "\(calls)", "failed": "\(failed)"])
        }
    }
}
