import Basics
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Redis
import Routing
import RoutingCore
import Synchronization
import Vault

/// The router's hot path: API key → tenant, then one Redis pipeline (lead, rules version, dialer
/// health, capacity, time), the pure decision, and the decision chain appended to the audit
/// stream. It runs on the caller's event loop over non-blocking Redis connections (no thread
/// hops) and never touches Postgres.
public final class RouteService: Sendable {
    public let redis: EventLoopRedisClient
    public let keys: RoutingKeys
    /// Capacity older than this is "unknown" (scenario 3).
    public let staleCapacityMs: Int
    /// How long a resolved API key is trusted before Redis is asked again (a revocation reaches
    /// the router within it).
    public let apiKeyCacheMs: Int
    /// How long a tenant's rules version, dialer health and capacity are reused before Redis is
    /// read again (0: every call reads them).
    public let stateMaxAgeMs: Int
    /// Live Braze lookups on cache misses (nil: misses go to the menu / default and the crm-worker fills them).
    public let live: LiveLookup?
    private let cache = NIOLockedValueBox(Cache())
    /// Resolved API keys by the key itself (in memory only), so a warm call hashes nothing.
    private let apiKeys: TTLCache<String, String>
    private let audit: DecisionAudit
    private let dialerState: DialerState
    /// The tenants' lead-cache keys (leads are sealed and found by blind index).
    let leadKeys: TenantLeadKeys

    private struct Cache {
        var rules: [String: ActiveRules] = [:]
        var states: [String: TenantState] = [:]
    }

    /// `keyRing` opens the tenants' lead-cache keys; without it no lead is read.
    public init(redis: EventLoopRedisClient, keys: RoutingKeys, keyRing: MasterKeyRing?, staleCapacityMs: Int = 30_000,
                apiKeyCacheMs: Int = RouterCredentials.routerCacheMs, stateMaxAgeMs: Int = 100, live: LiveLookup? = nil) {
        self.live = live
        self.leadKeys = TenantLeadKeys(keyRing: keyRing, keys: keys)
        self.stateMaxAgeMs = stateMaxAgeMs
        self.audit = DecisionAudit(redis: redis, stream: keys.auditStream)
        self.dialerState = DialerState(keys: keys)
        self.redis = redis
        self.keys = keys
        self.staleCapacityMs = staleCapacityMs
        self.apiKeyCacheMs = apiKeyCacheMs
        self.apiKeys = TTLCache(ttlMs: apiKeyCacheMs, capacity: 10_000)
    }

    /// A call to route, as the JSON API receives it.
    public struct Call: Sendable, Decodable {
        public let callId: String
        public let caller: String
        public let called: String?

        public init(callId: String, caller: String, called: String? = nil) {
            self.callId = callId
            self.caller = caller
            self.called = called
        }
    }

    /// The answer with its audit id and the server time spent deciding.
    public struct Routed: Sendable {
        public let decisionId: String
        public let decision: RoutingDecision
        public let caller: PhoneNumber
        public let micros: Int
    }

    /// The tenant an API key belongs to; nil for an unknown key. Completes on `eventLoop`.
    public func tenant(apiKey: String, on eventLoop: any EventLoop) -> EventLoopFuture<String?> {
        if let known = cachedTenant(apiKey: apiKey) { return eventLoop.makeSucceededFuture(known) }
        return redis.pipeline([["HGET", keys.apiKeys, APIKey.hash(apiKey)]], on: eventLoop).map { replies in
            // "tenant" or "tenant|<expiry, ms>" (RouterCredentials); an expired key is unknown.
            guard let value = replies.first?.string else { return nil }
            let parts = value.utf8.split(separator: UInt8(ascii: "|"), maxSplits: 1)
            guard let first = parts.first, let tenant = String(first) else { return nil }
            let expiresMs = parts.count == 2 ? String(parts[1]).flatMap { Int64($0) } : nil
            if parts.count == 2, expiresMs == nil { return nil }
            if let expiresMs, expiresMs <= Int64(Date().timeIntervalSince1970 * 1000) { return nil }
            self.apiKeys.set(tenant, for: apiKey)
            return tenant
        }
    }

    /// The tenant of a key resolved within `apiKeyCacheMs` (no Redis read); nil when not cached.
    /// A key resolved just before it expires may be trusted up to `apiKeyCacheMs` past its expiry.
    public func cachedTenant(apiKey: String) -> String? { apiKeys.value(for: apiKey) }

    /// Routes one call for `tenant` on `eventLoop`; the future fails with `RoutingError` for bad
    /// input or missing rules and `RedisError` when Redis cannot answer.
    public func route(_ call: Call, tenant: String, defaultCountryCode: String = "1", on eventLoop: any EventLoop) -> EventLoopFuture<Routed> {
        let promise = eventLoop.makePromise(of: Routed.self)
        if eventLoop.inEventLoop {
            route(call, tenant: tenant, defaultCountryCode: defaultCountryCode, on: eventLoop) { promise.completeWith($0) }
        } else {
            eventLoop.execute { self.route(call, tenant: tenant, defaultCountryCode: defaultCountryCode, on: eventLoop) { promise.completeWith($0) } }
        }
        return promise.futureResult
    }

    /// `route` for the hot path: call it on `eventLoop`; `done` runs there, once. One Redis round
    /// trip (and no future beyond its reply) when the tenant's state and rules are in memory.
    public func route(_ call: Call, tenant: String, defaultCountryCode: String, on eventLoop: any EventLoop,
                      then done: @escaping (Result<Routed, any Error>) -> Void) {
        let started = DispatchTime.now().uptimeNanoseconds
        let caller: PhoneNumber
        do {
            // Every text that reaches the audit chain is checked here, so Postgres never refuses it later.
            if let problem = UntrustedText.problem(call.callId, maxBytes: 200) { throw RoutingError(.invalidInput, "callId \(problem)") }
            if let called = call.called, let problem = UntrustedText.problem(called, maxBytes: 64, allowEmpty: true) {
                throw RoutingError(.invalidInput, "called \(problem)")
            }
            caller = try PhoneNumber(parsing: call.caller, defaultCountryCode: defaultCountryCode)
        } catch {
            return done(.failure(error))
        }
        if let leads = leadKeys.known(tenant) {
            return route(call, tenant: tenant, caller: caller, leads: leads, started: started, on: eventLoop, then: done)
        }
        // The tenant's first call on this router: its lead keys first (once).
        leadKeys.load(tenant, redis: redis, on: eventLoop).assumeIsolated().whenComplete { loaded in
            switch loaded {
            case .success(let leads): self.route(call, tenant: tenant, caller: caller, leads: leads, started: started, on: eventLoop, then: done)
            case .failure(let error): done(.failure(error))
            }
        }
    }

    /// `route` once the caller is parsed and the tenant's lead keys are known (nil: no lead is read).
    private func route(_ call: Call, tenant: String, caller: PhoneNumber, leads: SealedLeads?, started: UInt64, on eventLoop: any EventLoop,
                       then done: @escaping (Result<Routed, any Error>) -> Void) {
        // The tenant's rules version, dialer health and capacity are kept for `stateMaxAgeMs`; the
        // first call after that fetches them again in the same pipeline as its lead.
        let now = started
        let (known, rulesInMemory) = cache.withLockedValue { ($0.states[tenant], $0.rules[tenant]) }
        // While a dialer is down, every call rereads the state, so a recovery is used at once.
        let state = known.flatMap { now - $0.fetchedAt <= UInt64(stateMaxAgeMs) * 1_000_000 && !$0.anyDown ? $0 : nil }
        // Without lead keys the lead's place in the pipeline holds a command whose reply is empty.
        var commands = [leads.map { ["HGET", $0.leadKey(caller), SealedLeads.field] } ?? ["ECHO", ""]]
        if state == nil {
            commands += [["HGET", keys.rules(tenant), "version"]] + dialerState.stateCommands(tenant: tenant) + [["TIME"]]
        }
        redis.pipeline(commands, on: eventLoop) { result in
            let replies: [RedisValue]
            do { replies = try result.get() } catch { return done(.failure(error)) }
            let current: TenantState
            if let state {
                current = state
            } else {
                current = self.tenantState(replies, fetchedAt: now)
                self.cache.withLockedValue { $0.states[tenant] = current }
            }
            guard let version = current.version else {
                return done(.failure(RoutingError(.invalidRules, "tenant \(tenant) has no active routing rules")))
            }
            let lead = leads.flatMap { $0.open(replies[0].string) } ?? [:]
            if let rulesInMemory, rulesInMemory.version == version {
                let context = Decided(call: call, tenant: tenant, caller: caller, leads: leads, version: version, active: rulesInMemory,
                                      started: started, state: current)
                return self.decide(context, lead: lead, on: eventLoop, then: done)
            }
            self.activeRules(tenant, version: version, on: eventLoop).assumeIsolated().whenComplete { loaded in
                switch loaded {
                case .success(let active):
                    let context = Decided(call: call, tenant: tenant, caller: caller, leads: leads, version: version, active: active,
                                          started: started, state: current)
                    self.decide(context, lead: lead, on: eventLoop, then: done)
                case .failure(let error): done(.failure(error))
                }
            }
        }
    }

    private static let cacheHit = ["cache:hit"]
    private static let cacheMiss = ["cache:miss"]

    /// Decides with the lead's fields as opened (empty: a miss); on a miss, after a live Braze
    /// lookup when one is configured (off the event loop, within its budget and cutoff).
    private func decide(_ context: Decided, lead fields: [String: String], on eventLoop: any EventLoop,
                        then done: @escaping (Result<Routed, any Error>) -> Void) {
        let gathered = context.state.input(lead: fields.isEmpty ? .notFound : .found(fields))
        guard fields.isEmpty, let live = self.live else {
            return done(.success(finish(context, gathered, fields: fields, lookups: fields.isEmpty ? Self.cacheMiss : Self.cacheHit, on: eventLoop)))
        }
        let elapsed = Int((DispatchTime.now().uptimeNanoseconds - context.started) / 1_000_000)
        let (tenant, caller) = (context.tenant, context.caller)
        eventLoop.makeFutureWithTask { await live.lookup(tenant: tenant, phone: caller, elapsedMs: elapsed) }.assumeIsolated().whenComplete { looked in
            var input = gathered
            var found: [String: String] = [:]
            var note = "braze:failed"
            if case .success(let result) = looked {
                note = result.note
                if let lead = result.lead {
                    input = RoutingInput(lead: lead, now: input.now, health: input.health, freeAgents: input.freeAgents)
                    if case .found(let f) = lead { found = f }
                }
            }
            done(.success(self.finish(context, input, fields: found, lookups: ["cache:miss", note], on: eventLoop)))
        }
    }

    /// A tenant's rules as published, with its time zone resolved (shared, never copied).
    final class ActiveRules: Sendable {
        let version: String
        let rules: RoutingRules
        let zone: TimeZone?
        init(version: String, rules: RoutingRules, zone: TimeZone?) {
            self.version = version
            self.rules = rules
            self.zone = zone
        }
    }

    /// A tenant's routing state as last read from Redis (shared, never copied).
    final class TenantState: Sendable {
        let version: String?
        let health: [String: RoutingInput.Health]
        /// Free agents per dialer; nil where the poller's figure is older than the stale limit.
        let freeAgents: [String: Int?]
        /// Redis TIME minus the local clock at the read, in ms.
        let clockSkewMs: Int
        let fetchedAt: UInt64
        /// `"health":{…},"capacity":{…}` for every decision's audit chain, encoded once per read.
        let auditMembers: [UInt8]
        let anyDown: Bool

        init(version: String?, health: [String: RoutingInput.Health], freeAgents: [String: Int?], clockSkewMs: Int, fetchedAt: UInt64, auditMembers: [UInt8]) {
            self.version = version
            self.health = health
            self.freeAgents = freeAgents
            self.clockSkewMs = clockSkewMs
            self.fetchedAt = fetchedAt
            self.auditMembers = auditMembers
            self.anyDown = health.values.contains(.down)
        }

        func input(lead: RoutingInput.Lead) -> RoutingInput {
            RoutingInput(lead: lead, now: Date(timeIntervalSince1970: Double(RouteService.nowMs() + clockSkewMs) / 1000), health: health, freeAgents: freeAgents)
        }
    }

    func tenantState(_ replies: [RedisValue], fetchedAt: UInt64) -> TenantState {
        let health = DialerState.health(from: replies[2])
        let nowMs = replies[4].timeMs
        let free = DialerState.freeAgents(from: replies[3], nowMs: nowMs, staleMs: staleCapacityMs)
        var members = JSONText()
        members.object { o in
            o.member("health", health.mapValues(\.rawValue))
            o.member("capacity", free)
        }
        return TenantState(version: replies[1].string, health: health, freeAgents: free, clockSkewMs: nowMs - Int(Date().timeIntervalSince1970 * 1000),
                           fetchedAt: fetchedAt, auditMembers: Array(members.bytes.dropFirst().dropLast()))
    }

    /// What a decision is about, carried to `finish`.
    struct Decided {
        let call: Call
        let tenant: String
        let caller: PhoneNumber
        /// The tenant's lead-cache keys (nil: leads are neither read nor written).
        let leads: SealedLeads?
        let version: String
        let active: ActiveRules
        let started: UInt64
        let state: TenantState
    }

    /// Decides, then appends the audit entry (and caches a live-looked-up lead, or queues the miss
    /// for the crm-worker) without waiting: all on the same ordered connection, in one flush.
    func finish(_ c: Decided, _ input: RoutingInput, fields: [String: String], lookups: [String], on eventLoop: any EventLoop) -> Routed {
        let decision = c.active.rules.decide(input, zone: c.active.zone)
        let micros = Int((DispatchTime.now().uptimeNanoseconds - c.started) / 1000)
        let nowMs = Self.nowMs()
        let id = Self.decisionId(ms: nowMs)
        let plain = chain(id: id, tenant: c.tenant, call: c.call, caller: c.caller, version: c.version, fields: fields,
                          state: c.state.auditMembers, decision: decision, micros: micros, lookups: lookups, at: nowMs)
        audit.append(plain, tenant: c.tenant, sealer: leadKeys.sealer(c.leads), on: eventLoop)
        var commands: [[String]] = []
        if let leads = c.leads {
            switch input.lead {
            case .found(let found) where lookups.contains(where: { $0.hasPrefix("braze:found") }):
                let key = leads.leadKey(c.caller)
                if let sealed = try? leads.hashArguments(found) { commands += [["HSET", key] + sealed, ["EXPIRE", key, String(3 * 86_400)]] }
            case .notFound, .unavailable:
                if let miss = try? leads.missCommands(c.caller, nowMs: nowMs) { commands += miss }
            case .found:
                break
            }
        }
        if !commands.isEmpty { _ = redis.pipeline(commands, on: eventLoop) }
        return Routed(decisionId: id, decision: decision, caller: c.caller, micros: micros)
    }

    /// `route` for async callers (tests, tools).
    public func route(_ call: Call, tenant: String, defaultCountryCode: String = "1") async throws -> Routed {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        return try await route(call, tenant: tenant, defaultCountryCode: defaultCountryCode, on: loop).get()
    }

    /// The tenant's active rules (from the in-memory copy when its version is current).
    /// When Redis cannot be reached, the copy in memory (if any) is used: a call that is already
    /// ringing still gets an answer.
    public func activeRules(tenant: String) async throws -> RoutingRules {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let version: String?
        do {
            version = try await redis.pipeline([["HGET", keys.rules(tenant), "version"]], on: loop).get()[0].string
        } catch let error as RedisError {
            if let known = cache.withLockedValue({ $0.rules[tenant] }) { return known.rules }
            throw error
        }
        guard let version else { throw RoutingError(.invalidRules, "tenant \(tenant) has no active routing rules") }
        return try await activeRules(tenant, version: version, on: loop).get().rules
    }

    /// The tenant's dialer health as the breakers last declared it.
    public func health(tenant: String) async throws -> [String: RoutingInput.Health] {
        try await dialerState.health(tenant: tenant, redis: redis)
    }

    private func activeRules(_ tenant: String, version: String, on eventLoop: any EventLoop) -> EventLoopFuture<ActiveRules> {
        if let hit = cache.withLockedValue({ $0.rules[tenant] }), hit.version == version { return eventLoop.makeSucceededFuture(hit) }
        // One HMGET: the version and the rules it names are read together (a publish writes both in one HSET).
        return redis.pipeline([["HMGET", keys.rules(tenant), "version", "json"]], on: eventLoop).flatMapThrowing { reply in
            let fields = reply[0].array ?? []
            guard fields.count == 2, let json = fields[1].string, let rules = try? JSONDecoder().decode(RoutingRules.self, from: Data(json.utf8)) else {
                throw RoutingError(.invalidRules, "tenant \(tenant) has unreadable routing rules")
            }
            let active = ActiveRules(version: fields[0].string ?? version, rules: rules, zone: TimeZone(identifier: rules.timeZone))
            self.cache.withLockedValue { $0.rules[tenant] = active }
            return active
        }
    }

    /// A decision id: `d`, milliseconds since 1970 in 12 hex digits, then 16 hex digits that are
    /// unique per process (a counter through a bijective mix, offset by a random seed drawn once):
    /// ids sort by time and stay unique across replicas without coordination or a syscall per call.
    static func decisionId(ms nowMs: Int = RouteService.nowMs()) -> String {
        let ms = UInt64(max(0, nowMs))
        var z = idSeed &+ idCounter.wrappingAdd(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return String(unsafeUninitializedCapacity: 29) { out in
            let hex: StaticString = "0123456789abcdef"
            out[0] = UInt8(ascii: "d")
            for i in 0..<12 { out[12 - i] = hex.utf8Start[Int((ms >> (4 * UInt64(i))) & 15)] }
            for i in 0..<16 { out[28 - i] = hex.utf8Start[Int((z >> (4 * UInt64(i))) & 15)] }
            return 29
        }
    }
    /// Milliseconds since 1970 by the local clock.
    static func nowMs() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }

    private static let idSeed = UInt64.random(in: 0...UInt64.max)
    private static let idCounter = Atomic<UInt64>(0)

    /// One decision's chain as JSON text (it carries the decision id).
    private func chain(id: String, tenant: String, call: Call, caller: PhoneNumber, version: String, fields: [String: String], state: [UInt8],
                       decision: RoutingDecision, micros: Int, lookups: [String], at: Int) -> [UInt8] {
        var json = JSONText()
        json.object { chain in
            chain.member("kind", "decision")
            chain.member("decisionId", id)
            chain.member("tenant", tenant)
            chain.member("callId", call.callId)
            chain.member("caller", caller.e164)
            chain.member("called", call.called)
            chain.member("rulesVersion", version)
            chain.member("lead", fields.isEmpty ? nil : fields)
            chain.member("lookups", lookups)
            chain.members(state)
            chain.member("answer") { decision.write(into: &$0) }
            chain.member("micros", micros)
            chain.member("at", at)
        }
        return json.bytes
    }
}
