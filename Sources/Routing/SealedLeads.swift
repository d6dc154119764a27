import Basics
import Foundation
import Logging
import Redis
import RoutingCore
import Vault

/// One tenant's lead cache as it sits in Redis, with no plain phone number and no plain lead
/// field: a lead's key ends in the blind index of its E.164 number (HMAC-SHA256 under the
/// tenant's index key) and holds one field, `sealed`: the lead's fields (names and values)
/// sealed together (AES-256-GCM under the tenant's personal-data key), so the router opens one
/// value per call. A queued cache miss carries the number sealed. The router, the crm-worker and
/// the CLI all read and write through this type.
public struct SealedLeads: Sendable {
    public let tenant: String
    public let keys: RoutingKeys
    public let personal: PersonalDataKeys
    /// The one hash field of a cached lead.
    public static let field = "sealed"

    public init(tenant: String, keys: RoutingKeys, personal: PersonalDataKeys) {
        self.tenant = tenant
        self.keys = keys
        self.personal = personal
    }

    /// The blind index of the number (what its keys end in).
    public func index(_ phone: PhoneNumber) -> String { personal.index(phone.e164) }

    /// The hash of the lead's sealed fields.
    public func leadKey(_ phone: PhoneNumber) -> String { keys.lead(tenant, index: index(phone)) }

    /// Set while Braze is known to have no user with this number.
    public func noLeadKey(_ phone: PhoneNumber) -> String { keys.noLead(tenant, index: index(phone)) }

    /// The fields sealed as one value: each name and value as `<UTF-8 length>:<bytes>`, in name order.
    public func sealed(_ fields: [String: String]) throws -> String {
        var framed: [UInt8] = []
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            for text in [name, value] {
                framed += Array(String(text.utf8.count).utf8)
                framed.append(UInt8(ascii: ":"))
                framed += Array(text.utf8)
            }
        }
        return try personal.seal(bytes: framed)
    }

    /// `HSET` arguments after the key: the one field and the sealed fields.
    public func hashArguments(_ fields: [String: String]) throws -> [String] { [Self.field, try sealed(fields)] }

    /// The fields of a cached lead from its sealed value; nil when it does not open (tampered, or
    /// sealed under other keys) or is malformed, which readers treat as a cache miss.
    public func open(_ sealed: String?) -> [String: String]? {
        guard let sealed, let bytes = try? personal.openBytes(sealed) else { return nil }
        var fields: [String: String] = [:]
        var i = 0
        func text() -> String? {
            var length = 0
            while i < bytes.count, bytes[i] != UInt8(ascii: ":") {
                guard bytes[i] >= 0x30, bytes[i] <= 0x39, length < 1 << 24 else { return nil }
                length = length * 10 + Int(bytes[i] - 0x30)
                i += 1
            }
            guard i < bytes.count, bytes.count - i - 1 >= length else { return nil }
            let start = i + 1
            i = start + length
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }
        while i < bytes.count {
            guard let name = text(), let value = text() else { return nil }
            fields[name] = value
        }
        return fields
    }

    /// Commands that replace the cached lead with `fields` for `ttlSeconds` and forget that
    /// Braze had no such user.
    public func replaceCommands(_ phone: PhoneNumber, fields: [String: String], ttlSeconds: Int) throws -> [[String]] {
        let key = leadKey(phone)
        var commands = [["DEL", key]]
        if !fields.isEmpty { commands += [["HSET", key] + (try hashArguments(fields)), ["EXPIRE", key, String(ttlSeconds)]] }
        commands.append(["DEL", noLeadKey(phone)])
        return commands
    }

    /// Commands that queue a cache miss for the crm-worker: the member `<tenant>|<blind index>`
    /// in the misses set (added once, however often the caller calls) and the number, sealed, in
    /// the hash beside it.
    public func missCommands(_ phone: PhoneNumber, nowMs: Int) throws -> [[String]] {
        let member = tenant + "|" + index(phone)
        return [["HSET", keys.missPhones, member, try personal.seal(phone.e164)], ["ZADD", keys.misses, "NX", String(nowMs), member]]
    }

    /// The tenant and blind index of a misses-set member.
    public static func parseMiss(_ member: String) -> (tenant: String, index: String)? {
        let parts = member.split(separator: "|", maxSplits: 1).map(String.init)
        guard parts.count == 2, TenantID.isValid(parts[0]), parts[1].utf8.count == 32 else { return nil }
        return (parts[0], parts[1])
    }
}

/// Where writers (the crm-worker, the CLI, the console) get a tenant's `SealedLeads`: its
/// personal-data keys from the vault (made on first use), and published for the routers, which
/// have no Postgres, sealed with the active master key in the `personal-keys` hash.
public struct LeadVault: Sendable {
    public let vault: CredentialVault
    public let redis: RedisClient
    public let keys: RoutingKeys
    /// Tenants whose keys this process published (so it publishes once per tenant per minute).
    private let published = TTLCache<String, Bool>(ttlMs: 60_000, capacity: 100_000)
    private let logger = Logger(label: "switchboard.lead-vault")

    public init(vault: CredentialVault, redis: RedisClient, keys: RoutingKeys) {
        self.vault = vault
        self.redis = redis
        self.keys = keys
    }

    /// The tenant's sealed lead cache; publishes its keys for the routers when this process has
    /// not done so in the last minute.
    public func leads(_ tenant: String) async throws -> SealedLeads {
        try TenantID.check(tenant)
        let personal = try await vault.personalDataKeys(tenant: tenant)
        if published.value(for: tenant) == nil {
            try await publish(personal, onlyIfMissing: true)
            published.set(true, for: tenant)
        }
        return SealedLeads(tenant: tenant, keys: keys, personal: personal)
    }

    /// Caches one lead's CRM fields (what the Braze refresh writes), sealed, merged into what is
    /// cached for the number (read, opened, merged, sealed again: for tools, not for bulk writes).
    public func cache(tenant: String, phone: PhoneNumber, fields: [String: String]) async throws {
        guard !fields.isEmpty else { return }
        let leads = try await leads(tenant)
        let key = leads.leadKey(phone)
        let current = leads.open(try await redis.send(["HGET", key, SealedLeads.field]).string) ?? [:]
        try await redis.send(["HSET", key] + (try leads.hashArguments(current.merging(fields) { $1 })))
    }

    /// Deletes what a lead cache from before sealing left in Redis: lead and no-lead keys named
    /// by a plain number (`…:lead:+1…`) and misses queued as `tenant|+1…`. Only a cache (the Braze
    /// refresh and live lookups fill it again); returns how many keys and members went. When any
    /// went, Redis is asked to rewrite its append-only file, whose history still holds them.
    public func removePlainEntries() async throws -> Int {
        var removed = 0
        for pattern in ["\(keys.prefix):{routing:*}:lead:+*", "\(keys.prefix):{routing:*}:nolead:+*"] {
            var cursor = "0"
            repeat {
                let reply = try await redis.send(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"])
                cursor = reply.array?.first?.string ?? "0"
                let found = reply.array?.dropFirst().first?.array?.compactMap(\.string) ?? []
                if !found.isEmpty { removed += try await redis.send(["UNLINK"] + found).int ?? 0 }
            } while cursor != "0"
        }
        var cursor = "0"
        repeat {
            let reply = try await redis.send(["ZSCAN", keys.misses, cursor, "MATCH", "*|+*", "COUNT", "1000"])
            cursor = reply.array?.first?.string ?? "0"
            let items = reply.array?.dropFirst().first?.array?.compactMap(\.string) ?? []
            let members = stride(from: 0, to: items.count, by: 2).map { items[$0] }
            if !members.isEmpty { removed += try await redis.send(["ZREM", keys.misses] + members).int ?? 0 }
        } while cursor != "0"
        if removed > 0 {
            // "already in progress" is as good: the rewrite that runs starts from today's data.
            _ = try? await redis.send(["BGREWRITEAOF"])
        }
        return removed
    }

    /// Writes the router's copy of a tenant's keys (sealed with the active master key); with
    /// `onlyIfMissing`, leaves an existing copy alone.
    public func publish(_ personal: PersonalDataKeys, onlyIfMissing: Bool = false) async throws {
        let sealed = try RouterPersonalKeys.seal(personal, keyRing: vault.keyRing)
        try await redis.send([onlyIfMissing ? "HSETNX" : "HSET", keys.personalKeys, personal.tenant, sealed])
    }

    /// Publishes the keys of every tenant that has them or can call a router (a live API key or
    /// voice token: its keys are made now, so its router seals with them from the first call),
    /// where Redis's copy is missing or sealed by an older master key (the access sync and
    /// `switchboard keys rotate` run this); returns how many were written.
    public func publishAll() async throws -> Int {
        let tenants = try await vault.postgres.query("""
            SELECT tenant_id FROM tenant_personal_keys
            UNION SELECT tenant_id FROM router_api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            UNION SELECT tenant_id FROM voice_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            ORDER BY 1
            """).rows.compactMap { $0[0] }
        let cached = try await redis.send(["HGETALL", keys.personalKeys]).hash
        var written = 0
        for tenant in tenants {
            if let current = cached[tenant], vault.keyRing.isSealedByActiveKey(current) { continue }
            // One tenant whose keys cannot be opened (its data key sealed under a master key that
            // is gone) must not hold up the others: it is logged, and `keys check` names it.
            do {
                try await publish(try await vault.personalDataKeys(tenant: tenant))
                written += 1
            } catch let error as VaultError {
                logger.error("lead-cache keys not published", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            }
        }
        return written
    }
}

/// The routers' copy of tenants' personal-data keys: sealed with a master key (context
/// `personal-keys:<tenant>`), so a reader of Redis alone learns nothing.
public enum RouterPersonalKeys {
    /// The sealed text stored in the `personal-keys` hash.
    public static func seal(_ personal: PersonalDataKeys, keyRing: MasterKeyRing) throws -> String {
        try keyRing.sealDirect(personal.exported(), context: "personal-keys:" + personal.tenant)
    }

    /// Opens what `seal` stored.
    public static func open(_ sealed: String, tenant: String, keyRing: MasterKeyRing) throws -> PersonalDataKeys {
        try PersonalDataKeys(tenant: tenant, exported: try keyRing.openDirect(sealed, context: "personal-keys:" + tenant))
    }
}
