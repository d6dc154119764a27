import Foundation
import Curl
import Logging
import NIOConcurrencyHelpers
import Queue
import Redis
import Routing
import RoutingCore
import VendorClients
import ServiceLifecycle
import Vault

/// Reads every tenant's dialers for free agents into Redis (`capacity` hash: "<free>|<ms>")
/// and feeds the shared circuit breakers: a failed read counts as a failure, a good one as a
/// success. A failed read is retried once at once (scenario 3); after that the capacity goes
/// stale and the router treats it as unknown. A 429 is the dialer's limit, not an outage: it
/// skips the round. Several crm-workers may run: a per-dialer Redis lock lets one poll per interval.
/// A dialer declared down is probed every `probeMs` (faster), so recovery is seen quickly.
/// Integrations and their opened credentials are kept in memory (re-read every 30 s), so
/// polling goes on while Postgres is down. Every dialer is polled on its own: a slow or broken
/// one (or one whose credentials cannot be opened) never holds back the others' reads.
public struct DialerPoller: Service {
    public let access: TenantAccess
    public let vault: CredentialVault
    public let client: DialerClient
    public let breaker: CircuitBreaker
    let dialerState: DialerState
    public let intervalMs: Int
    public let probeMs: Int
    let logger = Logger(label: "switchboard.dialer-poller")

    public init(access: TenantAccess, vault: CredentialVault, http: HTTPClient, intervalMs: Int, probeMs: Int = 100) {
        self.access = access
        self.vault = vault
        self.client = DialerClient(http: http)
        self.breaker = CircuitBreaker(keys: access.keys)
        self.dialerState = DialerState(keys: access.keys)
        self.intervalMs = intervalMs
        self.probeMs = min(probeMs, intervalMs)
    }

    public func run() async throws {
        var dialers: [(RoutingIntegration, String)] = []
        var listedAt = Date.distantPast
        var lastPoll: [String: Date] = [:]
        let inFlight = InFlight()
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if Date().timeIntervalSince(listedAt) > 30 {
                    do {
                        var fresh: [(RoutingIntegration, String)] = []
                        for integration in try await access.integrations() where integration.kind == .zendeskTalk || integration.kind == .dialfire {
                            do {
                                fresh.append((integration, try await access.credentials(of: integration, vault: vault)))
                            } catch {
                                // One integration's sealed credentials that cannot be opened cost that dialer alone.
                                logger.error("cannot open a dialer's credentials; not polling it", metadata: [
                                    "tenant": "\(integration.tenant)", "dialer": "\(integration.id)", "error": "\(error)"])
                            }
                        }
                        dialers = fresh
                        listedAt = Date()
                    } catch {
                        logger.warning("cannot list integrations; polling the known ones", metadata: ["error": "\(error)"])
                        listedAt = Date().addingTimeInterval(-25) // try again in 5 s
                    }
                }
                let now = Date()
                var due: [(RoutingIntegration, String, Int)] = []
                // Every dialer's health in one round trip: down ones are probed more often.
                let health = (try? await dialerState.health(of: dialers.map { ($0.0.tenant, $0.0.id) }, redis: access.redis)) ?? []
                for (index, (integration, credentials)) in dialers.enumerated() {
                    let key = integration.tenant + "/" + integration.id
                    let down = index < health.count && health[index] == .down
                    let every = Double(down ? probeMs : intervalMs) / 1000
                    if now.timeIntervalSince(lastPoll[key] ?? .distantPast) >= every - 0.01, inFlight.start(key) {
                        lastPoll[key] = now
                        due.append((integration, credentials, down ? probeMs : intervalMs))
                    }
                }
                for (integration, credentials, every) in due {
                    group.addTask {
                        await pollOnce(integration, credentials: credentials, everyMs: every)
                        inFlight.finish(integration.tenant + "/" + integration.id)
                    }
                }
                await gracefulPause(ms: probeMs)
            }
        }
    }

    /// The dialers being read right now: one read at a time per dialer, however slow it is.
    final class InFlight: Sendable {
        private let keys = NIOLockedValueBox(Set<String>())
        /// Marks `key` as being read; false when it already is.
        func start(_ key: String) -> Bool { keys.withLockedValue { $0.insert(key).inserted } }
        func finish(_ key: String) { _ = keys.withLockedValue { $0.remove(key) } }
    }

    /// Polls one dialer if no other crm-worker did in the last `everyMs`.
    public func pollOnce(_ integration: RoutingIntegration, credentials: String, everyMs: Int) async {
        let redis = access.redis
        let keys = access.keys
        do {
            let lock = "\(keys.prefix):routing:poll-lock:\(integration.tenant):\(integration.id)"
            guard try await redis.send(["SET", lock, "1", "NX", "PX", String(max(20, everyMs - 20))]).string == "OK" else { return }
            var free: Int?
            var lastError: Error?
            for _ in 0..<2 {
                do { free = try await client.freeAgents(integration, credentials: credentials); break } catch { lastError = error }
                if let failure = lastError as? JobFailure, case .rateLimited = failure.code { return }
            }
            if let free {
                try await dialerState.recordCapacity(tenant: integration.tenant, dialer: integration.id, freeAgents: free, redis: redis)
                try await breaker.record(.success, integration: integration.id, tenant: integration.tenant, reason: "capacity read", redis: redis)
            } else {
                logger.warning("capacity read failed", metadata: ["tenant": "\(integration.tenant)", "dialer": "\(integration.id)", "error": "\(lastError.map { "\($0)" } ?? "")"])
                try await breaker.record(.failure, integration: integration.id, tenant: integration.tenant,
                                         reason: "capacity read failed: \(lastError.map { "\($0)" } ?? "unknown")", redis: redis)
            }
        } catch {
            logger.error("poll failed", metadata: ["tenant": "\(integration.tenant)", "dialer": "\(integration.id)", "error": "\(error)"])
        }
    }
}
