import Foundation
import Curl
import Postgres
import Redis
import Routing
import RoutingCore
import Schema
import Testing
import Vault

/// The router process's JSON API against real Redis: decisions, failures, the audit stream.
@Suite(.needsServers) struct RouterTests {
    let rules = RoutingRules(
        timeZone: "America/New_York",
        dialers: [.init(id: "zendesk", kind: .zendeskTalk, target: "sip:support@acme.zendesk.com"),
                  .init(id: "dialfire", kind: .dialfire, target: "+15550001111")],
        defaultDialer: "zendesk", preferredDialer: "dialfire",
        ownerRoutes: ["alice": "dialfire"], tierRoutes: ["hot": "dialfire", "cold": "zendesk"],
        menu: [.init(digit: "1", label: "Sales", dialer: "dialfire")])

    @Test func routesByLeadDataFallsBackAndAuditsEveryDecision() async throws {
        let redis = TestServers.redis()
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let prefix = TestServers.uniquePrefix()
        let service = RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: prefix))
        let key = try await service.credentials.createAPIKey(tenant: "acme", createdBy: "test").key
        let otherKey = try await service.credentials.createAPIKey(tenant: "norules", createdBy: "test").key
        _ = try await service.rules.publish(rules, tenant: "acme", actor: "test")
        let masterKeys = MasterKeyRing.generateEntry(id: "k1")
        let leads = LeadVault(vault: CredentialVault(keyRing: try MasterKeyRing(keys: masterKeys, activeId: "k1"), postgres: postgres), redis: redis,
                              keys: service.keys)
        try await leads.cache(tenant: "acme", phone: try PhoneNumber(parsing: "+15551230001"), fields: ["lead_owner": "alice", "lead_score_tier": "cold"])
        try await leads.cache(tenant: "acme", phone: try PhoneNumber(parsing: "+15551230002"), fields: ["lead_score_tier": "cold"])
        var bad = rules
        bad.tierRoutes["warm"] = "avaya"
        await #expect(throws: RoutingError.self) { try await service.rules.publish(bad, tenant: "acme", actor: "test") }

        let port = try TestServers.freePort()
        let router = try ChildProcess("router", environment: ["SB_REDIS_PORT": String(TestServers.redisPort), "SB_KEY_PREFIX": prefix, "SB_HTTP_PORT": String(port),
                                                              "SB_MASTER_KEYS": masterKeys])
        let http = HTTPClient(maxConnections: 2)
        let base = "http://127.0.0.1:\(port)"
        #expect(try await TestServers.eventually(20) { (try? await http.send(HTTPRequest(url: base + "/health")))?.status == 200 }, "\(router.log)")
        func route(_ body: String, key: String? = nil) async throws -> (Int, [String: Any]) {
            let r = try await http.send(.json("POST", base + "/v1/route", body: body, headers: key.map { [("Authorization", "Bearer \($0)")] } ?? []))
            return (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? [:])
        }

        let (status, owner) = try await route(#"{"callId":"c1","caller":"(555) 123-0001","called":"+15550009999"}"#, key: key)
        #expect(status == 200)
        #expect(owner["dialer"] as? String == "dialfire")
        #expect(owner["rule"] as? String == "owner")
        #expect(owner["caller"] as? String == "+15551230001")
        #expect(((owner["serverMicros"] as? Int) ?? 0) > 0)
        #expect(try await route(#"{"callId":"c2","caller":"+15551230002"}"#, key: key).1["rule"] as? String == "tier")
        #expect(try await route(#"{"callId":"c3","caller":"+15559999999"}"#, key: key).1["menu"] as? Bool == true)

        // A dialer declared down by the shared breaker gets no calls; both down: the cascade. The
        // router rereads health, capacity and the rules version at most 100 ms after a change.
        try await redis.send(["HSET", service.keys.health("acme"), "dialfire", "down"])
        try await Task.sleep(for: .milliseconds(150))
        #expect(try await route(#"{"callId":"c4","caller":"+15551230001"}"#, key: key).1["dialer"] as? String == "zendesk")
        try await redis.send(["HSET", service.keys.health("acme"), "zendesk", "down"])
        try await Task.sleep(for: .milliseconds(150))
        #expect(try await route(#"{"callId":"c5","caller":"+15551230001"}"#, key: key).1["cascade"] as? Bool == true)
        try await redis.send(["DEL", service.keys.health("acme")])

        // A new rules version switches the router within 100 ms.
        var changed = rules
        changed.ownerRoutes = ["alice": "zendesk"]
        _ = try await service.rules.publish(changed, tenant: "acme", actor: "test")
        try await Task.sleep(for: .milliseconds(150))
        #expect(try await route(#"{"callId":"c6","caller":"+15551230001"}"#, key: key).1["dialer"] as? String == "zendesk")

        #expect(try await route(#"{"callId":"x","caller":"+15551230001"}"#).0 == 401)
        #expect(try await route(#"{"callId":"x","caller":"+15551230001"}"#, key: "sbr_wrong").0 == 401)
        let malformed = try await route("{nope", key: key)
        #expect(malformed.0 == 400)
        #expect((malformed.1["error"] as? String)?.contains("body must be JSON") == true)
        let phone = try await route(#"{"callId":"x","caller":"anonymous"}"#, key: key)
        #expect(phone.0 == 400)
        #expect((phone.1["error"] as? String)?.contains("anonymous") == true)
        #expect(try await route(#"{"callId":"x","caller":"+15551230001"}"#, key: otherKey).0 == 409)

        // Text the audit trail could not store is refused at the edge with a 400 and a message:
        // NUL, control characters, lone surrogates, oversized ids, invalid UTF-8.
        for (body, words) in [(#"{"callId":"a\u0000b","caller":"+15551230001"}"#, "callId must not contain NUL"),
                              (#"{"callId":"a\u0007b","caller":"+15551230001"}"#, "callId must not contain control"),
                              (#"{"callId":"a\ud800b","caller":"+15551230001"}"#, "callId"),
                              (#"{"callId":"\#(String(repeating: "x", count: 201))","caller":"+15551230001"}"#, "at most 200 bytes"),
                              (#"{"callId":"ok","caller":"+15551230001","called":"+1555\u0000"}"#, "called must not contain NUL")] {
            let refused = try await route(body, key: key)
            #expect(refused.0 == 400, "\(body)")
            #expect((refused.1["error"] as? String)?.contains(words) == true, "\(body): \(refused.1)")
        }
        let invalidUTF8 = Array(#"{"callId":"a"#.utf8) + [0xFF, 0xFE] + Array(#"b","caller":"+15551230001"}"#.utf8)
        let raw = try await http.send(HTTPRequest(method: "POST", url: base + "/v1/route", headers: [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")], body: invalidUTF8))
        #expect(raw.status == 400, "\(raw.text)")

        // Every decision is in the audit stream with its chain, under its decision id.
        // Decisions go out in batches (one stream entry per event-loop tick), each tenant's chains
        // of the tick sealed together with its personal-data key as one line.
        let personal = ["acme": try await leads.vault.personalDataKeys(tenant: "acme")]
        var lines: [String] = []
        var chains: [String] = []
        _ = try await TestServers.eventually(5) {
            let entries = try await redis.send(["XRANGE", service.keys.auditStream, "-", "+"]).array ?? []
            lines = entries.flatMap { entry -> [String] in
                let fields = entry.array?[1].array?.compactMap(\.string) ?? []
                guard let i = fields.firstIndex(of: "chains"), i + 1 < fields.count else { return [] }
                return fields[i + 1].split(separator: "\n").map(String.init)
            }
            chains = lines.flatMap { SealedChain.open($0[...], keyRing: leads.vault.keyRing, keys: personal).split(separator: "\n").map(String.init) }
            return chains.count >= 6
        }
        #expect(chains.count == 6)
        // The stream holds no caller or lead field.
        #expect(lines.allSatisfy { $0.hasPrefix("~acme~") && !$0.contains("+1555123") && !$0.contains("alice") }, "\(lines.first ?? "")")
        let chain = chains.first { $0.contains(#""decisionId":"\#(owner["decisionId"] as? String ?? "?")""#) } ?? ""
        #expect(chain.contains(#""rule":"owner""#))
        #expect(chain.contains(#""lead_owner":"alice""#))

        await http.shutdown()
        router.terminate()
        #expect(await router.waitForExit(seconds: 10) == 0)
        try await TestServers.cleanup(prefix: prefix, redis: redis)
        try await redis.send(["DEL", service.keys.auditStream, service.keys.apiKeys])
        try await TestServers.dropSchema(postgres)
    }

    @Test func ruleVersionsAreKeptAuditedAndActivatedAtomically() async throws {
        let redis = TestServers.redis()
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let store = RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: TestServers.uniquePrefix()))

        let v1 = try await store.rules.save(rules, tenant: "acme", actor: "ana@cs")
        #expect(v1 == 1)
        // Saved is not active: Redis has nothing yet.
        #expect(try await redis.send(["HGET", store.keys.rules("acme"), "version"]).isNull)
        try await store.rules.activate(tenant: "acme", version: v1, actor: "ana@cs")
        #expect(try await redis.send(["HGET", store.keys.rules("acme"), "version"]).string == "1")

        var changed = rules
        changed.tierRoutes["warm"] = "zendesk"
        let v2 = try await store.rules.publish(changed, tenant: "acme", actor: "ben@ops", note: "warm leads to support")
        #expect(v2 == 2)
        #expect(try await redis.send(["HGET", store.keys.rules("acme"), "version"]).string == "2")

        // A rule pointing at an unknown dialer is rejected with a message naming it; nothing is stored.
        var bad = rules
        bad.ownerRoutes["carol"] = "avaya"
        do {
            _ = try await store.rules.save(bad, tenant: "acme", actor: "ana@cs")
            Issue.record("saving rules with an unknown dialer succeeded")
        } catch let error as RoutingError {
            #expect(error.code == .unknownDialer)
            #expect(error.message.contains("avaya"))
            #expect(error.message.contains("owner rule 'carol'"))
        }
        await #expect(throws: RoutingError.self) { try await store.rules.activate(tenant: "acme", version: 9, actor: "ana@cs") }

        let versions = try await store.rules.versions(tenant: "acme")
        #expect(versions.map(\.version) == [2, 1])
        #expect(versions.map(\.active) == [true, false])
        #expect(versions.first?.note == "warm leads to support")
        #expect(versions.last?.rules == rules)

        // Rolling back is activating an older version; every step is in the change log with before/after.
        try await store.rules.activate(tenant: "acme", version: 1, actor: "ana@cs")
        #expect(try await redis.send(["HGET", store.keys.rules("acme"), "version"]).string == "1")
        let log = try await store.rules.changes(tenant: "acme")
        #expect(log.map(\.action) == ["activate", "activate", "save", "activate", "save"])
        #expect(log.map(\.actor) == ["ana@cs", "ben@ops", "ben@ops", "ana@cs", "ana@cs"])
        #expect(log[0].before == changed && log[0].after == rules)
        #expect(log.last?.before == nil)
        #expect(RulesDiff.describe(before: log[0].before, after: log[0].after) == ["tier 'warm': zendesk → none"])

        // Redis lost its copy (flush, failover): the active version is pushed again from Postgres.
        try await redis.send(["DEL", store.keys.rules("acme")])
        #expect(try await store.rules.republish(tenant: "acme"))
        #expect(try await redis.send(["HGET", store.keys.rules("acme"), "version"]).string == "1")
        try await redis.send(["DEL", store.keys.rules("acme")])
        try await TestServers.dropSchema(postgres)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let running = try await RunningRouter.start(rules: rules)
        let (key, port) = (running.key, running.port)

        // One write with three requests: a route, a Hummingbird route, a route. Answers keep that order.
        func post(_ id: String) -> String {
            let body = #"{"callId":"\#(id)","caller":"+15551230001"}"#
            return "POST /v1/route HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        let wire = post("first") + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + post("third")
        let reply = try RawSocket.exchange(port: port, send: wire, until: { $0.components(separatedBy: "HTTP/1.1 200").count == 4 })
        let first = reply.range(of: "\"first\"")?.lowerBound
        let health = reply.range(of: "\r\n\r\nok\n")?.lowerBound
        let third = reply.range(of: "\"third\"")?.lowerBound
        #expect(first != nil && health != nil && third != nil, "\(reply)")
        if let first, let health, let third { #expect(first < health && health < third, "\(reply)") }

        try await running.stop()
    }

    @Test func theEdgeHoldsFloodsIdleConnectionsAndSlowDrips() async throws {
        let running = try await RunningRouter.start(rules: rules, environment: ["SB_ROUTER_TENANT_RPS": "5", "SB_ROUTER_IDLE_TIMEOUT_MS": "400",
                                                                              "SB_ROUTER_HEAD_TIMEOUT_MS": "300"])
        let (key, port) = (running.key, running.port)
        _ = try await running.store.rules.publish(rules, tenant: "globex", actor: "test")
        let otherKey = try await running.store.credentials.createAPIKey(tenant: "globex", createdBy: "test").key
        func post(_ id: String, _ key: String) -> String {
            let body = #"{"callId":"\#(id)","caller":"+15551230001"}"#
            return "POST /v1/route HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        // One tenant floods (20 pipelined calls against a budget of 5/s): it gets 429 with
        // Retry-After for what is over, and the other tenant's call is decided as usual.
        let flood = try RawSocket.exchange(port: port, send: (0..<20).map { post("f\($0)", key) }.joined(),
                                           until: { $0.components(separatedBy: "HTTP/1.1 ").count == 21 })
        let refused = flood.components(separatedBy: "HTTP/1.1 429").count - 1
        #expect(refused >= 10, "\(flood)")
        #expect(flood.lowercased().contains("retry-after: 1"), "\(flood)")
        #expect(flood.contains("over its 5 calls per second"))
        let other = try RawSocket.exchange(port: port, send: post("g1", otherKey), until: { $0.contains("}") })
        #expect(other.hasPrefix("HTTP/1.1 200 OK"), "\(other)")

        // An idle connection is closed after the idle timeout.
        let started = Date()
        let idle = try RawSocket.exchangeUntilClosed(port: port, send: "")
        #expect(idle.closed)
        #expect(Date().timeIntervalSince(started) < 4)
        // A request dripped in slower than the head timeout is refused with 408 and closed.
        let drip = try RawSocket.exchange(port: port, send: post("slow", otherKey), pieces: 10, pauseMs: 80, until: { $0.contains("}") })
        #expect(drip.hasPrefix("HTTP/1.1 408"), "\(drip)")
        try await running.stop()
    }

    @Test func plainRouteRequestsAreReadOffTheWireAndEverythingElseByHummingbird() async throws {
        let running = try await RunningRouter.start(rules: rules)
        let (key, port, router) = (running.key, running.port, running.process)
        try await running.leads.cache(tenant: "acme", phone: try PhoneNumber(parsing: "+15551230001"), fields: ["lead_owner": "alice"])
        let body = #"{"callId":"w1","caller":"+15551230001"}"#
        func exchange(_ wire: String, pieces: Int = 1) throws -> String {
            try RawSocket.exchange(port: port, send: wire, pieces: pieces, until: { $0.contains("}") })
        }

        // Split across many small writes: the head and body are put together before deciding.
        let plain = "POST /v1/route HTTP/1.1\r\nHost: x\r\nauthorization: Bearer \(key)\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
        let split = try exchange(plain, pieces: 12)
        #expect(split.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(split)")
        #expect(split.lowercased().contains("\r\ndate: ") && split.contains(#""rule":"owner""#), "\(split)")

        // Chunked and Expect: 100-continue go to Hummingbird's route, with the same answer.
        let chunked = "POST /v1/route HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(body.utf8.count, radix: 16) + "\r\n\(body)\r\n0\r\n\r\n"
        let viaHummingbird = try exchange(chunked)
        #expect(viaHummingbird.hasPrefix("HTTP/1.1 200 OK\r\n") && viaHummingbird.contains(#""rule":"owner""#), "\(viaHummingbird)")
        let large = "POST /v1/route HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nContent-Length: 70000\r\n\r\n" + String(repeating: " ", count: 70_000)
        #expect(try RawSocket.exchange(port: port, send: large, until: { $0.contains("}") }).hasPrefix("HTTP/1.1 413"))

        // Errors on the fast path: clear statuses and messages, and `Connection: close` is honoured.
        let noKey = try exchange("POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(noKey.hasPrefix("HTTP/1.1 401") && noKey.contains("API key"), "\(noKey)")
        let broken = try exchange("POST /v1/route HTTP/1.1\r\nAuthorization: Bearer \(key)\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{oops")
        #expect(broken.hasPrefix("HTTP/1.1 400") && broken.lowercased().contains("connection: close") && broken.contains("callId"), "\(broken)")
        let last = try RawSocket.exchangeUntilClosed(port: port, send: "POST /v1/route HTTP/1.1\r\nAuthorization: Bearer \(key)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        #expect(last.closed && last.reply.hasPrefix("HTTP/1.1 200") && last.reply.hasSuffix("}"), "the router closes after answering: \(last)")
        // Thousands of pipelined requests answered at once (no Redis read: a bad key) in one write.
        let many = String(repeating: "POST /v1/route HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)", count: 3000)
        let answers = try RawSocket.exchange(port: port, send: many, until: { $0.components(separatedBy: "HTTP/1.1 401").count == 3001 })
        #expect(answers.components(separatedBy: "HTTP/1.1 401").count == 3001)
        #expect(router.isRunning)

        try await running.stop()
    }

    @Test func withRedisUnreachableEveryEndpointAnswers503NotACrash() async throws {
        let port = try TestServers.freePort()
        let nowhere = try TestServers.freePort() // nothing listens there
        let router = try ChildProcess("router", environment: ["SB_REDIS_PORT": String(nowhere), "SB_HTTP_PORT": String(port),
                                                              "SB_REDIS_TIMEOUT_MS": "300", "SB_MASTER_KEYS": MasterKeyRing.generateEntry(id: "k1")])
        let http = HTTPClient(maxConnections: 2)
        let base = "http://127.0.0.1:\(port)"
        #expect(try await TestServers.eventually(20) { (try? await http.send(HTTPRequest(url: base + "/health")))?.status == 503 }, "\(router.log)")
        let route = try await http.send(.json("POST", base + "/v1/route", body: #"{"callId":"c","caller":"+15551230001"}"#, headers: [("Authorization", "Bearer sbr_x")]))
        #expect(route.status == 503)
        #expect(route.text.contains("unavailable"))
        let voice = try await http.send(HTTPRequest(method: "POST", url: base + "/twiml/acme/inbound", headers: [("X-Twilio-Signature", "x")],
                                                    body: Array("CallSid=CA1&From=%2B15551230001".utf8)))
        #expect(voice.status == 503)
        let outcome = try await http.send(.json("POST", base + "/v1/calls/c/outcome", body: #"{"caller":"+15551230001","outcome":"connected"}"#,
                                                headers: [("Authorization", "Bearer sbr_x")]))
        #expect(outcome.status == 503)
        #expect(router.isRunning)
        await http.shutdown()
        router.terminate()
        #expect(await router.waitForExit(seconds: 10) == 0)
    }
}

/// A `router` process on a free port for tenant "acme" (the given rules, one API key) against
/// real Redis and Postgres under a unique prefix and schema; `stop` checks a clean exit and
/// removes what the test left.
struct RunningRouter {
    let redis: RedisClient
    let postgres: PostgresClient
    let prefix: String
    let store: RoutingStores
    let key: String
    let port: Int
    let process: ChildProcess
    let http: HTTPClient
    /// The sealed lead cache, under the master key the router was given.
    let leads: LeadVault

    static func start(rules: RoutingRules, environment: [String: String] = [:]) async throws -> RunningRouter {
        let redis = TestServers.redis()
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let prefix = TestServers.uniquePrefix()
        let store = RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: prefix))
        let key = try await store.credentials.createAPIKey(tenant: "acme", createdBy: "test").key
        _ = try await store.rules.publish(rules, tenant: "acme", actor: "test")
        let port = try TestServers.freePort()
        let masterKeys = MasterKeyRing.generateEntry(id: "k1")
        let leads = LeadVault(vault: CredentialVault(keyRing: try MasterKeyRing(keys: masterKeys, activeId: "k1"), postgres: postgres), redis: redis,
                              keys: store.keys)
        let process = try ChildProcess("router", environment: ["SB_REDIS_PORT": String(TestServers.redisPort), "SB_KEY_PREFIX": prefix,
                                                               "SB_HTTP_PORT": String(port), "SB_MASTER_KEYS": masterKeys].merging(environment) { $1 })
        let http = HTTPClient(maxConnections: 1)
        #expect(try await TestServers.eventually(20) { (try? await http.send(HTTPRequest(url: "http://127.0.0.1:\(port)/health")))?.status == 200 }, "\(process.log)")
        return RunningRouter(redis: redis, postgres: postgres, prefix: prefix, store: store, key: key, port: port, process: process, http: http,
                             leads: leads)
    }

    func stop() async throws {
        await http.shutdown()
        process.terminate()
        #expect(await process.waitForExit(seconds: 10) == 0)
        try await TestServers.cleanup(prefix: prefix, redis: redis)
        try await redis.send(["DEL", store.keys.auditStream, store.keys.apiKeys])
        try await TestServers.dropSchema(postgres)
    }
}
