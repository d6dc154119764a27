import Foundation
import Basics
import Curl
import Queue
import Redis
import Routing
import RoutingCore
import VendorClients
import Vault

/// The router's live Braze lookup on a cache miss (scenario 1 and 5): only when the tenant has
/// Braze, its breaker is not down, the router's share of the workspace limit has budget this
/// minute, and the call's 1.5 s cutoff leaves time — otherwise the call falls back at once.
/// A timeout or error counts against the Braze breaker and routes by scenario 1 (default dialer).
public final class LiveLookup: Sendable {
    public let http: HTTPClient
    public let keyRing: MasterKeyRing
    public let redis: EventLoopRedisClient
    public let keys: RoutingKeys
    public let cutoffMs: Int
    public let perMinute: Int
    let breaker: CircuitBreaker
    let dialerState: DialerState
    private let access = TTLCache<String, BrazeAccess>(ttlMs: 60_000)

    public init(http: HTTPClient, keyRing: MasterKeyRing, redis: EventLoopRedisClient, keys: RoutingKeys, cutoffMs: Int = 1500, perMinute: Int = 100) {
        self.http = http
        self.keyRing = keyRing
        self.redis = redis
        self.keys = keys
        self.cutoffMs = cutoffMs
        self.perMinute = perMinute
        self.breaker = CircuitBreaker(keys: keys)
        self.dialerState = DialerState(keys: keys)
    }

    private func brazeAccess(_ tenant: String) async throws -> BrazeAccess? {
        if let hit = access.value(for: tenant) { return hit }
        guard let sealed = try await redis.pipeline([["HGET", keys.brazeAccess, tenant]])[0].string,
              let opened = try BrazeAccess.open(sealed, tenant: tenant, keyRing: keyRing) else {
            return nil
        }
        access.set(opened, for: tenant)
        return opened
    }

    /// The outcome of a lookup, with what it cost (for the audit chain).
    public struct Result: Sendable {
        public let lead: RoutingInput.Lead?
        public let note: String
    }

    /// Looks the caller up in Braze; `lead` nil means "no live lookup" (treat as a plain miss).
    public func lookup(tenant: String, phone: PhoneNumber, elapsedMs: Int) async -> Result {
        do {
            guard let access = try await brazeAccess(tenant) else { return Result(lead: nil, note: "braze:not_configured") }
            let minute = Int(Date().timeIntervalSince1970 / 60)
            let state = try await redis.pipeline([dialerState.healthCommand(tenant: tenant, integration: "braze"),
                                                  ["INCR", keys.liveLookups(tenant, minute: minute)],
                                                  ["EXPIRE", keys.liveLookups(tenant, minute: minute), "120"]])
            if DialerState.health(fromField: state[0]) == .down { return Result(lead: .unavailable(reason: "braze_down"), note: "braze:down") }
            guard (state[1].int ?? Int.max) <= perMinute else { return Result(lead: nil, note: "braze:no_budget") }
            let remaining = cutoffMs - elapsedMs
            guard remaining >= 50 else { return Result(lead: .unavailable(reason: "cutoff"), note: "braze:cutoff") }
            let started = DispatchTime.now().uptimeNanoseconds
            let client = BrazeClient(http: http, baseURL: access.url, apiKey: access.apiKey)
            let elapsed = { Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000) }
            let fields: [String: String]?
            do {
                fields = try await client.lead(phone: phone.e164, timeoutMs: remaining)
            } catch let failure as JobFailure {
                // A 429 is Braze's limit, not an outage: no breaker count.
                if case .rateLimited = failure.code {} else {
                    _ = try? await breaker.record(.failure, integration: "braze", tenant: tenant, reason: "live lookup: \(failure)", redis: redis)
                }
                return Result(lead: .unavailable(reason: "braze_error"), note: "braze:error:\(elapsed())ms")
            } catch {
                let timedOut = (error as? HTTPClientError)?.code == .timeout
                _ = try? await breaker.record(.failure, integration: "braze", tenant: tenant, reason: "live lookup: \(error)", redis: redis)
                return Result(lead: .unavailable(reason: timedOut ? "braze_timeout" : "braze_error"), note: "braze:\(timedOut ? "timeout" : "error"):\(elapsed())ms")
            }
            _ = try? await breaker.record(.success, integration: "braze", tenant: tenant, reason: "live lookup", redis: redis)
            guard let fields else { return Result(lead: .notFound, note: "braze:not_found:\(elapsed())ms") }
            return Result(lead: .found(fields.isEmpty ? ["_known": "1"] : fields), note: "braze:found:\(elapsed())ms")
        } catch {
            return Result(lead: .unavailable(reason: "braze_error"), note: "braze:error")
        }
    }
}
