import Foundation
import HTTPClient
import NIOConcurrencyHelpers
import Redis
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
    private let access = NIOLockedValueBox([String: (url: String, key: String, until: UInt64)?]())

    public init(http: HTTPClient, keyRing: MasterKeyRing, redis: EventLoopRedisClient, keys: RoutingKeys, cutoffMs: Int = 1500, perMinute: Int = 100) {
        self.http = http
        self.keyRing = keyRing
        self.redis = redis
        self.keys = keys
        self.cutoffMs = cutoffMs
        self.perMinute = perMinute
        self.breaker = CircuitBreaker(keys: keys)
    }

    /// What Redis holds for a tenant's live lookups (sealed).
    struct Access: Codable { let url: String; let apiKey: String }

    /// Seals a tenant's Braze access for the router.
    public static func seal(url: String, apiKey: String, tenant: String, keyRing: MasterKeyRing) throws -> String {
        try keyRing.sealDirect(String(decoding: try JSONEncoder().encode(Access(url: url, apiKey: apiKey)), as: UTF8.self), context: "braze:\(tenant)")
    }

    private func brazeAccess(_ tenant: String) async throws -> (url: String, key: String)? {
        let now = DispatchTime.now().uptimeNanoseconds
        if let hit = access.withLockedValue({ $0[tenant] }), let entry = hit, entry.until > now { return (entry.url, entry.key) }
        guard let sealed = try await redis.pipeline([["HGET", keys.brazeAccess, tenant]])[0].string,
              let decoded = try? JSONDecoder().decode(Access.self, from: Data(try keyRing.openDirect(sealed, context: "braze:\(tenant)").utf8)) else {
            return nil
        }
        access.withLockedValue { $0[tenant] = (decoded.url, decoded.apiKey, now + 60_000_000_000) }
        return (decoded.url, decoded.apiKey)
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
            let state = try await redis.pipeline([["HGET", keys.health(tenant), "braze"],
                                                  ["INCR", keys.liveLookups(tenant, minute: minute)],
                                                  ["EXPIRE", keys.liveLookups(tenant, minute: minute), "120"]])
            if state[0].string == "down" { return Result(lead: .unavailable(reason: "braze_down"), note: "braze:down") }
            guard (state[1].int ?? Int.max) <= perMinute else { return Result(lead: nil, note: "braze:no_budget") }
            let remaining = cutoffMs - elapsedMs
            guard remaining >= 50 else { return Result(lead: .unavailable(reason: "cutoff"), note: "braze:cutoff") }
            let started = DispatchTime.now().uptimeNanoseconds
            let body = try JSONSerialization.data(withJSONObject: ["phone": phone.e164, "fields_to_export": ["external_id", "phone", "custom_attributes"]])
            let base = access.url.hasSuffix("/") ? String(access.url.dropLast()) : access.url
            let response: HTTPResponse
            do {
                response = try await http.send(HTTPRequest(method: "POST", url: base + "/users/export/ids",
                                                           headers: [("Authorization", "Bearer \(access.key)"), ("Content-Type", "application/json")],
                                                           body: Array(body), connectTimeoutMs: min(remaining, 500), timeoutMs: remaining))
            } catch {
                let ms = Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
                _ = try? await breaker.record(.failure, integration: "braze", tenant: tenant, reason: "live lookup: \(error)", redis: redis)
                let timedOut = "\(error)".lowercased().contains("timeout") || "\(error)".lowercased().contains("timed out")
                return Result(lead: .unavailable(reason: timedOut ? "braze_timeout" : "braze_error"), note: "braze:\(timedOut ? "timeout" : "error"):\(ms)ms")
            }
            let ms = Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
            guard (200..<300).contains(response.status) else {
                if response.status != 429 { _ = try? await breaker.record(.failure, integration: "braze", tenant: tenant, reason: "live lookup: HTTP \(response.status)", redis: redis) }
                return Result(lead: .unavailable(reason: "braze_http_\(response.status)"), note: "braze:http_\(response.status):\(ms)ms")
            }
            _ = try? await breaker.record(.success, integration: "braze", tenant: tenant, reason: "live lookup", redis: redis)
            let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            guard let user = (object?["users"] as? [[String: Any]])?.first else { return Result(lead: .notFound, note: "braze:not_found:\(ms)ms") }
            var fields: [String: String] = [:]
            for (k, v) in (user["custom_attributes"] as? [String: Any]) ?? [:] {
                if let s = v as? String { fields[k] = s } else if let n = v as? NSNumber { fields[k] = n.stringValue }
            }
            return Result(lead: fields.isEmpty ? .found(["_known": "1"]) : .found(fields), note: "braze:found:\(ms)ms")
        } catch {
            return Result(lead: .unavailable(reason: "braze_error"), note: "braze:error")
        }
    }
}
