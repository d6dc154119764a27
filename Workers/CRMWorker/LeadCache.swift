import Foundation
import Curl
import Logging
import Metrics
import Queue
import Redis
import Routing
import RoutingCore
import VendorClients
import Vault

/// Keeps the Redis lead cache fresh from Braze (the router reads it on every call):
/// - nightly bulk refresh: `crm.refresh-all` (cron) → per tenant `crm.segment-export` →
///   `crm.segment-files` (waits for the export) → one `crm.segment-file` per NDJSON file;
/// - one user on a change webhook, and cache misses: `crm.lookup` through `/users/export/ids`.
/// Every Braze export call is a job with key `braze-export:<tenant>`, so the fleet-wide limiter
/// holds the workspace's limit (set `braze-export` below Braze's 250 / min: the rest is the
/// router's live-lookup share). Only the fields routing uses are cached (the rules' owner and
/// tier fields, plus the integration's `fields` setting); leads expire after `ttlSeconds`
/// unless a refresh rewrites them.
public struct LeadCache: Sendable {
    public let access: TenantAccess
    public let rules: RuleVersions
    public let vault: CredentialVault
    public let http: HTTPClient
    public let queue: JobQueue
    public let ttlSeconds: Int
    /// The sealed lead cache's keys per tenant (and their publication for the routers).
    public let leads: LeadVault
    /// The router's live-lookup cutoff: a slower Braze answer counts against the breaker.
    public let liveCutoffMs: Int
    let written = Counter(label: "switchboard_lead_cache_writes_total")
    let logger = Logger(label: "switchboard.lead-cache")

    public init(access: TenantAccess, rules: RuleVersions, vault: CredentialVault, http: HTTPClient, queue: JobQueue, ttlSeconds: Int = 3 * 86_400, liveCutoffMs: Int = 1500) {
        self.liveCutoffMs = liveCutoffMs
        self.access = access
        self.rules = rules
        self.vault = vault
        self.http = http
        self.queue = queue
        self.ttlSeconds = ttlSeconds
        self.leads = LeadVault(vault: vault, redis: access.redis, keys: access.keys)
    }

    struct Tenant: Decodable { let tenant: String }
    struct File: Decodable { let tenant: String; let url: String }
    /// A lookup job's payload: the number sealed with the tenant's personal-data key (`phone`
    /// holds a plain number in jobs queued before the lead cache was sealed).
    struct Lookup: Codable {
        let tenant: String
        var sealedPhone: String?
        var phone: String?
    }

    /// The tenant's Braze integration, a client for it and its secrets.
    public func braze(_ tenant: String) async throws -> (RoutingIntegration, BrazeClient, BrazeAccess.Credentials) {
        guard let integration = try await access.integrations(tenant: tenant).first(where: { $0.kind == .braze }) else {
            throw JobFailure(.fatal, "tenant \(tenant) has no Braze integration")
        }
        let text = try await access.credentials(of: integration, vault: vault)
        let secrets: BrazeAccess.Credentials
        do { secrets = try BrazeAccess.Credentials.parse(text) } catch { throw JobFailure(.fatal, "the Braze integration of \(tenant): \(error)") }
        return (integration, BrazeClient(http: http, baseURL: integration.baseURL, apiKey: secrets.apiKey), secrets)
    }

    /// The CRM fields routing reads for this tenant.
    public func fields(_ tenant: String, _ integration: RoutingIntegration) async throws -> Set<String> {
        var fields = Set((integration.settings["fields"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        if let active = try await rules.versions(tenant: tenant).first(where: \.active) {
            fields.insert(active.rules.ownerField)
            fields.insert(active.rules.tierField)
        } else {
            fields.formUnion(["lead_owner", "lead_score_tier"])
        }
        return fields
    }

    /// The commands that cache one user (a user without routing fields is cached as known, so the
    /// router applies scenario 5 instead of the unknown-caller menu).
    func commands(_ leads: SealedLeads, phone: PhoneNumber, attributes: [String: String], fields: Set<String>) throws -> [[String]] {
        var kept: [String: String] = [:]
        for (k, v) in attributes where fields.contains(k) && !v.isEmpty { kept[k] = v }
        if kept.isEmpty { kept["_known"] = "1" }
        return try leads.replaceCommands(phone, fields: kept, ttlSeconds: ttlSeconds)
    }

    /// Queues a lookup of one phone (deduplicated by its blind index while one is pending); the
    /// payload carries the number sealed.
    public func enqueueLookup(tenant: String, phone: PhoneNumber) async throws {
        let leads = try await leads.leads(tenant)
        let payload = Lookup(tenant: tenant, sealedPhone: try leads.personal.seal(phone.e164))
        _ = try await queue.enqueue(NewJob(type: "crm.lookup", payload: String(decoding: try JSONEncoder().encode(payload), as: UTF8.self),
                                           key: "braze-export:\(tenant)", priority: 7, maxAttempts: 8,
                                           uniqueKey: "lookup:\(tenant):\(leads.index(phone))"))
    }

    func enqueue(_ type: String, _ payload: [String: String], key: String, delayMs: Int = 0, attempts: Int = 10) async throws {
        _ = try await queue.enqueue(NewJob(type: type, payload: String(decoding: try JSONEncoder().encode(payload), as: UTF8.self), key: key,
                                           priority: 3, maxAttempts: attempts, delayMs: delayMs))
    }

    /// The job definitions.
    public var definitions: [JobDefinition] {
        [
            JobDefinition(type: "crm.refresh-all") { _ in
                for integration in try await access.integrations() where integration.kind == .braze {
                    try await enqueue("crm.segment-export", ["tenant": integration.tenant], key: "braze-segment:\(integration.tenant)")
                }
            },
            JobDefinition(type: "crm.segment-export", backoff: Backoff(baseMs: 5000, capMs: 300_000)) { context in
                let job = try JobFailure.decode(Tenant.self, from: context.job.payload)
                let (integration, client, _) = try await braze(job.tenant)
                guard let segment = integration.settings["segmentId"] else { throw JobFailure(.fatal, "the Braze integration of \(job.tenant) has no segmentId setting") }
                let url = try await client.startSegmentExport(segment: segment)
                try await enqueue("crm.segment-files", ["tenant": job.tenant, "url": url], key: "braze-segment:\(job.tenant)", delayMs: 1000, attempts: 60)
            },
            JobDefinition(type: "crm.segment-files", backoff: Backoff(baseMs: 1000, capMs: 60_000)) { context in
                let job = try JobFailure.decode(File.self, from: context.job.payload)
                let (_, client, _) = try await braze(job.tenant)
                guard let files = try await client.exportFiles(job.url) else { throw JobFailure(.retryable, "export not ready yet") }
                for file in files { try await enqueue("crm.segment-file", ["tenant": job.tenant, "url": file], key: "braze-file:\(job.tenant)") }
            },
            JobDefinition(type: "crm.segment-file", backoff: Backoff(baseMs: 2000, capMs: 120_000)) { context in
                let job = try JobFailure.decode(File.self, from: context.job.payload)
                let (integration, client, _) = try await braze(job.tenant)
                let fields = try await fields(job.tenant, integration)
                let users = try await client.exportFile(job.url)
                let leads = try await leads.leads(job.tenant)
                var commands: [[String]] = []
                var cached = 0
                for user in users {
                    guard let raw = user.phone, let phone = try? PhoneNumber(parsing: raw) else { continue }
                    commands += try self.commands(leads, phone: phone, attributes: user.attributes, fields: fields)
                    cached += 1
                }
                for chunk in stride(from: 0, to: commands.count, by: 4000) {
                    let replies = try await access.redis.pipeline(Array(commands[chunk..<min(commands.count, chunk + 4000)]))
                    if let error = replies.first(where: { if case .error = $0 { return true } else { return false } }) {
                        throw JobFailure(.retryable, "caching leads failed: \(error)")
                    }
                }
                written.increment(by: cached)
                logger.info("leads cached from export file", metadata: ["tenant": "\(job.tenant)", "leads": "\(cached)"])
            },
            JobDefinition(type: "crm.lookup", backoff: Backoff(baseMs: 1000, capMs: 60_000)) { context in
                let job = try JobFailure.decode(Lookup.self, from: context.job.payload)
                let leads = try await leads.leads(job.tenant)
                let raw: String
                if let sealed = job.sealedPhone {
                    do { raw = try leads.personal.open(sealed) } catch { throw JobFailure(.fatal, "the lookup's number does not open: \(error)") }
                } else {
                    raw = job.phone ?? ""
                }
                guard let phone = try? PhoneNumber(parsing: raw) else { throw JobFailure(.fatal, "the lookup's number is not a phone number") }
                let (integration, client, _) = try await braze(job.tenant)
                // These calls feed the shared Braze breaker too: while it is down the router makes no
                // live lookups, so the crm-worker's lookups are what declares Braze recovered.
                let breaker = CircuitBreaker(keys: access.keys)
                let attributes: [String: String]?
                do {
                    let started = DispatchTime.now().uptimeNanoseconds
                    attributes = try await client.lead(phone: phone.e164)
                    // Slower than the router's cutoff is no use to a waiting caller: it counts as a failure.
                    let ms = Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
                    try await breaker.record(ms <= liveCutoffMs ? .success : .failure, integration: "braze", tenant: job.tenant,
                                             reason: ms <= liveCutoffMs ? "cache fill lookup" : "cache fill lookup took \(ms) ms", redis: access.redis)
                } catch let failure as JobFailure {
                    if case .rateLimited = failure.code {} else {
                        try await breaker.record(.failure, integration: "braze", tenant: job.tenant, reason: "cache fill lookup: \(failure)", redis: access.redis)
                    }
                    throw failure
                } catch {
                    try await breaker.record(.failure, integration: "braze", tenant: job.tenant, reason: "cache fill lookup: \(error)", redis: access.redis)
                    throw error
                }
                if let attributes {
                    _ = try await access.redis.pipeline(try commands(leads, phone: phone, attributes: attributes, fields: try await fields(job.tenant, integration)))
                    written.increment()
                } else {
                    try await access.redis.send(["SET", leads.noLeadKey(phone), "1", "EX", "3600"])
                }
            },
        ]
    }
}
