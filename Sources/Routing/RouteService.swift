import Crypto
import Foundation
import NIOConcurrencyHelpers
import Redis

/// The router's hot path: API key → tenant, then one Redis pipeline (lead, rules version, dialer
/// health, capacity), the pure decision, and the decision chain appended to the audit stream.
/// Nothing here touches Postgres.
public final class RouteService: Sendable {
    public let redis: RedisClient
    public let keys: RoutingKeys
    /// Capacity older than this is "unknown" (scenario 3).
    public let staleCapacityMs: Int
    /// How long a resolved API key is trusted before Redis is asked again.
    public let apiKeyCacheMs: Int
    private let cache = NIOLockedValueBox(Cache())

    private struct Cache {
        /// By the key itself (in memory only), so a warm call hashes nothing.
        var apiKeys: [String: (tenant: String, until: UInt64)] = [:]
        var rules: [String: (version: String, rules: RoutingRules, zone: TimeZone?)] = [:]
    }

    public init(redis: RedisClient, keys: RoutingKeys, staleCapacityMs: Int = 30_000, apiKeyCacheMs: Int = 10_000) {
        self.redis = redis
        self.keys = keys
        self.staleCapacityMs = staleCapacityMs
        self.apiKeyCacheMs = apiKeyCacheMs
    }

    /// A call to route, as the JSON API receives it.
    public struct Call: Sendable, Decodable {
        public let callId: String
        public let caller: String
        public let called: String?
    }

    /// The answer with its audit id and the server time spent.
    public struct Routed: Sendable {
        public let decisionId: String
        public let decision: RoutingDecision
        public let caller: PhoneNumber
        public let micros: Int
    }

    static func hash(_ apiKey: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(apiKey.utf8)) { out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The tenant an API key belongs to; nil for an unknown key.
    public func tenant(apiKey: String) async throws -> String? {
        let now = DispatchTime.now().uptimeNanoseconds
        if let hit = cache.withLockedValue({ $0.apiKeys[apiKey] }), hit.until > now { return hit.tenant }
        guard let tenant = try await redis.send(["HGET", keys.apiKeys, Self.hash(apiKey)]).string else { return nil }
        cache.withLockedValue { cache in
            if cache.apiKeys.count > 10_000 { cache.apiKeys = [:] }
            cache.apiKeys[apiKey] = (tenant, now + UInt64(apiKeyCacheMs) * 1_000_000)
        }
        return tenant
    }

    /// Routes one call for `tenant`.
    public func route(_ call: Call, tenant: String, defaultCountryCode: String = "1") async throws -> Routed {
        let started = DispatchTime.now().uptimeNanoseconds
        guard !call.callId.isEmpty, call.callId.count <= 200 else { throw RoutingError(.invalidInput, "callId must be 1-200 characters") }
        let caller = try PhoneNumber(parsing: call.caller, defaultCountryCode: defaultCountryCode)
        let replies = try await redis.pipeline([
            ["HGETALL", keys.lead(tenant, caller)], ["HGET", keys.rules(tenant), "version"],
            ["HGETALL", keys.health(tenant)], ["HGETALL", keys.capacity(tenant)], ["TIME"],
        ])
        guard let version = replies[1].string else { throw RoutingError(.invalidRules, "tenant \(tenant) has no active routing rules") }
        let (rules, zone) = try await activeRules(tenant, version: version)
        let nowMs = Self.ms(replies[4])
        var health: [String: RoutingInput.Health] = [:]
        for (dialer, state) in Self.pairs(replies[2]) { health[dialer] = RoutingInput.Health(rawValue: state) ?? .unknown }
        var free: [String: Int?] = [:]
        for (dialer, value) in Self.pairs(replies[3]) {
            let parts = value.split(separator: "|")
            let fresh = parts.count == 2 && (Int(parts[1]).map { nowMs - $0 <= staleCapacityMs } ?? false)
            free[dialer] = fresh ? Int(parts[0]) : nil
        }
        let fields = Dictionary(Self.pairs(replies[0]), uniquingKeysWith: { a, _ in a })
        let input = RoutingInput(lead: fields.isEmpty ? .notFound : .found(fields), now: Date(timeIntervalSince1970: Double(nowMs) / 1000),
                                 health: health, freeAgents: free)
        let decision = rules.decide(input, zone: zone)
        let micros = Int((DispatchTime.now().uptimeNanoseconds - started) / 1000)
        let id = try await audit(tenant: tenant, call: call, caller: caller, version: version, fields: fields, input: input, decision: decision, micros: micros)
        return Routed(decisionId: id, decision: decision, caller: caller, micros: micros)
    }

    private func activeRules(_ tenant: String, version: String) async throws -> (RoutingRules, TimeZone?) {
        if let hit = cache.withLockedValue({ $0.rules[tenant] }), hit.version == version { return (hit.rules, hit.zone) }
        let reply = try await redis.pipeline([["HGET", keys.rules(tenant), "version"], ["HGET", keys.rules(tenant), "json"]])
        guard let json = reply[1].string, let rules = try? JSONDecoder().decode(RoutingRules.self, from: Data(json.utf8)) else {
            throw RoutingError(.invalidRules, "tenant \(tenant) has unreadable routing rules")
        }
        let stored = reply[0].string ?? version
        let zone = TimeZone(identifier: rules.timeZone)
        cache.withLockedValue { $0.rules[tenant] = (stored, rules, zone) }
        return (rules, zone)
    }

    /// Appends the decision chain to the audit stream; the stream entry id is the decision id.
    private func audit(tenant: String, call: Call, caller: PhoneNumber, version: String, fields: [String: String], input: RoutingInput,
                       decision: RoutingDecision, micros: Int) async throws -> String {
        var answer: [String: Any] = ["rule": decision.rule, "fallbacks": decision.fallbacks]
        switch decision.action {
        case .dial(let dialer, let target): answer["dialer"] = dialer; answer["target"] = target
        case .menu: answer["menu"] = true
        case .cascade: answer["cascade"] = true
        }
        let chain: [String: Any] = [
            "tenant": tenant, "callId": call.callId, "caller": caller.e164, "called": call.called ?? NSNull(), "rulesVersion": version,
            "lead": fields.isEmpty ? NSNull() : fields, "health": input.health.mapValues(\.rawValue),
            "capacity": input.freeAgents.mapValues { $0.map { $0 as Any } ?? NSNull() }, "answer": answer, "micros": micros,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: chain, options: [.sortedKeys]), as: UTF8.self)
        return try await redis.send(["XADD", keys.auditStream, "MAXLEN", "~", "10000000", "*", "tenant", tenant, "caller", caller.e164,
                                     "chain", json]).string ?? ""
    }

    static func pairs(_ value: RedisValue) -> [(String, String)] {
        let items = value.array ?? []
        return stride(from: 0, to: items.count - 1, by: 2).compactMap { i in
            guard let k = items[i].string, let v = items[i + 1].string else { return nil }
            return (k, v)
        }
    }

    static func ms(_ time: RedisValue) -> Int {
        guard let parts = time.array, parts.count == 2, let s = parts[0].int, let us = parts[1].int else { return Int(Date().timeIntervalSince1970 * 1000) }
        return s * 1000 + us / 1000
    }
}

extension RouteService {
    /// Publishes validated rules as the tenant's active version (every router switches on its next call).
    public func publish(_ rules: RoutingRules, tenant: String) async throws -> String {
        try rules.validate()
        let json = String(decoding: try JSONEncoder().encode(rules), as: UTF8.self)
        let version = String(Int(Date().timeIntervalSince1970 * 1000))
        try await redis.send(["HSET", keys.rules(tenant), "json", json, "version", version])
        return version
    }

    /// Creates an API key for a tenant; only its hash is stored, the key is returned once.
    public func createAPIKey(tenant: String) async throws -> String {
        let key = "sbr_" + (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try await redis.send(["HSET", keys.apiKeys, Self.hash(key), tenant])
        return key
    }

    /// Caches one lead's CRM fields (what the Braze refresh writes).
    public func cacheLead(tenant: String, phone: PhoneNumber, fields: [String: String]) async throws {
        guard !fields.isEmpty else { return }
        try await redis.send(["HSET", keys.lead(tenant, phone)] + fields.flatMap { [$0.key, $0.value] })
    }
}
