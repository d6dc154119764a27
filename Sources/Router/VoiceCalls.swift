import Basics
import Foundation
import Logging
import Queue
import Redis
import Routing
import RoutingCore
import Vault

/// What the router's TwiML webhooks need besides the decision: each tenant's voice-platform
/// token (for signatures), the side effects of a call step (breaker counts, the SMS alert when
/// both dialers fail, callback requests — the last two as jobs for the crm-worker), and the
/// audit entry of every step.
public final class VoiceCalls: Sendable {
    public let redis: EventLoopRedisClient
    public let jobs: JobQueue
    public let keys: RoutingKeys
    public let breaker: CircuitBreaker
    public let keyRing: MasterKeyRing?
    /// The tenants' personal-data keys the call steps are sealed with in the audit stream.
    let leadKeys: TenantLeadKeys
    /// At most one SMS alert per tenant in this many seconds.
    public let alertQuietSeconds: Int
    private let tokens = TTLCache<String, VoiceTokenSet>(ttlMs: RouterCredentials.routerCacheMs)
    private let publicKeys = TTLCache<String, String?>(ttlMs: 60_000)
    private let logger = Logger(label: "switchboard.voice")

    init(redis: EventLoopRedisClient, jobs: JobQueue, keys: RoutingKeys, keyRing: MasterKeyRing?, leadKeys: TenantLeadKeys, alertQuietSeconds: Int = 300) {
        self.leadKeys = leadKeys
        self.redis = redis
        self.jobs = jobs
        self.keys = keys
        self.breaker = CircuitBreaker(keys: keys)
        self.keyRing = keyRing
        self.alertQuietSeconds = alertQuietSeconds
    }

    /// The voice tokens the tenant's webhooks may be signed with now (more than one during a
    /// rotation's overlap); empty when the tenant has none. Trusted for at most
    /// `RouterCredentials.routerCacheMs`, so a revocation is seen within it.
    public func tokens(tenant: String) async throws -> [String] {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        if let hit = tokens.value(for: tenant) { return hit.live(atMs: now) }
        guard let sealed = try await redis.pipeline([["HGET", keys.voiceTokens, tenant]])[0].string else {
            tokens.set(VoiceTokenSet(tokens: []), for: tenant)
            return []
        }
        guard let keyRing else { throw VaultError("SB_MASTER_KEYS is not set: voice tokens cannot be opened") }
        let set = try VoiceTokenSet.open(sealed, tenant: tenant, keyRing: keyRing)
        tokens.set(set, for: tenant)
        return set.live(atMs: now)
    }

    /// The tenant's Telnyx public key; nil when none is set.
    public func telnyxPublicKey(tenant: String) async throws -> String? {
        if let hit = publicKeys.value(for: tenant) { return hit }
        let key = try await redis.pipeline([["HGET", keys.voicePublicKeys, tenant]])[0].string
        publicKeys.set(key, for: tenant)
        return key
    }

    /// Carries out a step's side effects. Failures are logged, never thrown: the caller is on the line.
    public func apply(_ effects: [CallFlow.Effect], tenant: String, callId: String, caller: String) async {
        for effect in effects {
            do {
                switch effect {
                case .breaker(let dialer, let success):
                    try await breaker.record(success ? .success : .failure, integration: dialer, tenant: tenant,
                                             reason: success ? "handoff connected" : "handoff failed (call \(callId))", redis: redis)
                case .bothDialersFailed:
                    let first = try await redis.pipeline([["SET", "\(keys.prefix):routing:alerted:\(tenant)", callId, "NX", "EX", String(alertQuietSeconds)]])[0]
                    if first.isNull { continue } // already alerted in this quiet period
                    let alert = SMSAlertJob(tenant: tenant, callId: callId, caller: caller,
                                            message: "Switchboard: both dialers failed for \(tenant) (call \(callId)). Callers are in the fallback cascade.")
                    _ = try await jobs.enqueue(NewJob(type: SMSAlertJob.type, payload: try Self.json(alert), key: alert.queueKey, priority: 9, maxAttempts: 10))
                case .fileCallback(let dialer):
                    let callback = CallbackJob(tenant: tenant, callId: callId, phone: caller, dialer: dialer)
                    _ = try await jobs.enqueue(NewJob(type: CallbackJob.type, payload: try Self.json(callback), key: callback.queueKey, priority: 8,
                                                      maxAttempts: 20, uniqueKey: callback.uniqueKey))
                }
            } catch {
                logger.error("call step side effect failed", metadata: ["tenant": "\(tenant)", "call": "\(callId)", "error": "\(error)"])
            }
        }
    }

    /// Appends one call step to the audit stream, sealed (`SealedChain`): the entry's own
    /// `caller` field stays empty.
    public func audit(tenant: String, callId: String, caller: String, step: String, detail: [String: String]) async {
        var json = JSONText()
        json.object { chain in
            chain.member("kind", "step")
            chain.member("tenant", tenant)
            chain.member("callId", callId)
            chain.member("caller", caller)
            chain.member("step", step)
            chain.member("detail", detail)
            chain.member("at", Int(Date().timeIntervalSince1970 * 1000))
        }
        do {
            let leads: SealedLeads?
            if let known = leadKeys.known(tenant) {
                leads = known
            } else if let loop = redis.eventLoops.first {
                leads = try await leadKeys.load(tenant, redis: redis, on: loop).get()
            } else {
                leads = nil
            }
            let chain = leadKeys.sealer(leads).line(json.bytes, tenant: tenant)
            _ = try await redis.pipeline([["XADD", keys.auditStream, "MAXLEN", "~", "10000000", "*", "kind", "step", "tenant", tenant,
                                           "call", callId, "caller", "", "chain", String(decoding: chain, as: UTF8.self)]])
        } catch {
            logger.error("audit append failed", metadata: ["tenant": "\(tenant)", "call": "\(callId)", "error": "\(error)"])
        }
    }

    static func json(_ payload: some Encodable) throws -> String { try JSONEncoder.sortedText(payload) }
}
