import Crypto
import Foundation
import Curl
import Postgres
import Redis
import Routing
import RoutingCore
import Schema
import Testing
import Vault


/// The tenant of the voice fleet: its id holds `-`, `_` and `.` so every follow-up URL of a call
/// (dial results, menu keys) must name it exactly as the first one did.
let voiceTenant = "acme-eu_1.x"

/// Calls placed by the voice front door simulator through the router's TwiML webhooks, with
/// the dialer, SMS simulators, crm-worker and audit-worker running: routing by owner, tier and
/// capacity, the handoff retry / other dialer / cascade, breakers, and the audit trail.
@Suite(.serialized, .needsServers) struct VoiceFrontDoorTests {
    /// Everything one test needs, started on free ports with its own key prefix and schema.
    final class Fleet: @unchecked Sendable {
        let redis = TestServers.redis()
        let postgres: PostgresClient
        let prefix = TestServers.uniquePrefix()
        let store: RoutingStores
        /// The sealed lead cache, under the fleet's master key.
        let leads: LeadVault
        let zendesk: SimulatorProcess
        let dialfire: SimulatorProcess
        let sms: SimulatorProcess
        let braze: SimulatorProcess
        let smtp: SimulatorProcess
        let mailbox = NSTemporaryDirectory() + "sb-mail-\(UUID().uuidString)"
        let crmPort: Int
        var router: ChildProcess!
        var crm: ChildProcess!
        var audit: ChildProcess!
        let routerPort: Int
        let voiceToken = "voice-token-0123456789abcdef"
        let masterKeys = MasterKeyRing.generateEntry(id: "k1")
        let http = HTTPClient(maxConnections: 4)
        let rules = RoutingRules(
            timeZone: "UTC",
            dialers: [.init(id: "zendesk", kind: .zendeskTalk, target: "sip:support@acme.sip.zendesk.com"),
                      .init(id: "dialfire", kind: .dialfire, target: "+15550001111")],
            defaultDialer: "zendesk", preferredDialer: "dialfire",
            ownerRoutes: ["alice": "dialfire"], tierRoutes: ["cold": "zendesk"], loadBalancing: true,
            menu: [.init(digit: "1", label: "Sales", dialer: "dialfire"), .init(digit: "2", label: "Support", dialer: "zendesk")])

        init(staleMs: Int = 30_000, pollMs: Int = 300) async throws {
            postgres = try await TestServers.postgres()
            try await SchemaMigrations.migrator.migrate(postgres)
            store = RoutingStores(redis: redis, postgres: postgres, keys: RoutingKeys(prefix: prefix))
            zendesk = try await SimulatorProcess("zendesk-talk", ["--token", "zd-secret", "--email", "api@acme.example"])
            dialfire = try await SimulatorProcess("dialfire", ["--tenant", voiceTenant, "--line", "in-1", "--token", "df-secret"])
            sms = try await SimulatorProcess("sms", ["--auth-token", "sms-secret", "--limit", "100/s"])
            routerPort = try TestServers.freePort()
            crmPort = try TestServers.freePort()
            smtp = try await SimulatorProcess("smtp", ["--mailbox", mailbox])
            braze = try await SimulatorProcess("braze", ["--api-key", "braze-key", "--users", "60", "--users-per-file", "25",
                                                         "--webhook-url", "http://127.0.0.1:\(crmPort)/webhooks/braze/\(voiceTenant)", "--webhook-token", "hook-token"])

            _ = try await store.rules.publish(rules, tenant: voiceTenant, actor: "test")
            let ring = try MasterKeyRing(keys: masterKeys, activeId: "k1")
            let vault = CredentialVault(keyRing: ring, postgres: postgres)
            leads = LeadVault(vault: vault, redis: redis, keys: store.keys)
            _ = try await store.credentials.setVoiceToken(tenant: voiceTenant, token: voiceToken, by: "test", vault: vault)
            try await store.access.setIntegration(RoutingIntegration(tenant: voiceTenant, id: "zendesk", kind: .zendeskTalk, baseURL: zendesk.url,
                                                              settings: ["email": "api@acme.example", "phoneNumberId": "7"]), credentials: "zd-secret", vault: vault)
            try await store.access.setIntegration(RoutingIntegration(tenant: voiceTenant, id: "dialfire", kind: .dialfire, baseURL: dialfire.url,
                                                              settings: ["tenant": voiceTenant, "line": "in-1"]), credentials: "df-secret", vault: vault)
            try await store.access.setIntegration(RoutingIntegration(tenant: voiceTenant, id: "sms", kind: .sms, baseURL: sms.url,
                                                              settings: ["accountSid": "AC00000000000000000000000000000000", "from": "+15550000001",
                                                                         "to": "+15559990000"]), credentials: "sms-secret", vault: vault)
            try await store.access.setIntegration(RoutingIntegration(tenant: voiceTenant, id: "braze", kind: .braze, baseURL: braze.url, settings: ["segmentId": "all-leads"]),
                                           credentials: #"{"apiKey": "braze-key", "webhookToken": "hook-token"}"#, vault: vault)
            try await store.access.setIntegration(RoutingIntegration(tenant: voiceTenant, id: "email", kind: .email, baseURL: "smtp://127.0.0.1:\(smtp.port)",
                                                              settings: ["from": "switchboard@acme.example", "to": "jordan@acme.example"]),
                                           credentials: "none", vault: vault)
            for (phone, fields) in [("+15551230001", ["lead_owner": "alice"]), ("+15551230002", ["lead_score_tier": "cold"]),
                                    ("+15551230003", ["lead_score_tier": "warm"])] {
                try await leads.cache(tenant: voiceTenant, phone: try PhoneNumber(parsing: phone), fields: fields)
            }
            let env = ["SB_REDIS_PORT": String(TestServers.redisPort), "SB_KEY_PREFIX": prefix, "SB_POSTGRES_URL": TestServers.postgresURL,
                       "SB_POSTGRES_SCHEMA": postgres.configuration.schema!, "SB_MASTER_KEYS": masterKeys]
            router = try ChildProcess("router", environment: env.merging(["SB_HTTP_PORT": String(routerPort), "SB_CAPACITY_STALE_MS": String(staleMs)]) { $1 })
            crm = try ChildProcess("crm-worker", environment: env.merging(["SB_DIALER_POLL_MS": String(pollMs), "SB_HTTP_PORT": String(crmPort), "SB_ALERT_CHECK_MS": "300"]) { $1 })
            audit = try ChildProcess("audit-worker", environment: env)
            let base = "http://127.0.0.1:\(routerPort)"
            let http = self.http
            guard try await TestServers.eventually(20, { (try? await http.send(HTTPRequest(url: base + "/health")))?.status == 200 }) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "router did not start: \(router.log)"])
            }
        }

        var routerURL: String { "http://127.0.0.1:\(routerPort)" }

        /// Places calls with the front door simulator; returns its per-call reports.
        func call(from: [String], menuDigits: String = "", apologyDigits: String = "", calls: Int = 1, telnyxKey: String? = nil) async throws -> [[String: Any]] {
            let signing = telnyxKey.map { ["--telnyx-private-key", $0] } ?? ["--token", voiceToken]
            var arguments = ["voice", "--router", routerURL, "--tenant", voiceTenant] + signing + ["--menu-digits", menuDigits,
                             "--apology-digits", apologyDigits, "--pause-scale", "0.05", "--calls", String(calls),
                             "--dialer", "sip:support@acme.sip.zendesk.com=\(zendesk.url)", "--dialer", "+15550001111=\(dialfire.url)"]
            for f in from { arguments += ["--from", f] }
            let voice = try ChildProcess("simulator", arguments: arguments, environment: [:])
            #expect(await voice.waitForExit(seconds: 60) == 0, "\(voice.log)")
            return voice.log.split(separator: "\n").compactMap { line in
                guard line.hasPrefix("{\"") else { return nil }
                return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            }.filter { $0["callSid"] != nil }
        }

        func stop() async throws {
            // SIGTERM drains every process within seconds, with status 0.
            for child in [router, crm, audit] { child?.terminate() }
            for child in [router, crm, audit] {
                let status = await child?.waitForExit(seconds: 5)
                #expect(status == 0, "\(child?.name ?? "?") did not stop cleanly: \(child?.log.suffix(2000) ?? "")")
            }
            for sim in [zendesk, dialfire, sms, braze, smtp] { sim.child.terminate() }
            try? FileManager.default.removeItem(atPath: mailbox)
            await http.shutdown()
            try await TestServers.cleanup(prefix: prefix, redis: redis)
            try await redis.send(["DEL", store.keys.auditStream, store.keys.apiKeys, store.keys.voiceTokens, store.keys.outcomes,
                                  store.keys.misses, store.keys.brazeAccess])
            try await TestServers.dropSchema(postgres)
        }

        /// The emails the SMTP simulator received, oldest first.
        func mails() -> [[String: Any]] {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: mailbox)) ?? []).sorted()
            return names.compactMap { name in
                FileManager.default.contents(atPath: mailbox + "/" + name).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            }
        }

        func simJSON(_ sim: SimulatorProcess, _ path: String) async throws -> Any? {
            try JSONSerialization.jsonObject(with: Data(try await http.send(HTTPRequest(url: sim.url + path)).body))
        }
    }

    @Test func callsRouteByOwnerTierAndMenuAndEveryStepIsAudited() async throws {
        let fleet = try await Fleet()
        let reports = try await fleet.call(from: ["+15551230001", "+15551230002", "+15559999999"], menuDigits: "2", calls: 3)
        let byCaller = Dictionary(uniqueKeysWithValues: reports.map { ($0["from"] as? String ?? "", $0) })
        #expect(byCaller["+15551230001"]?["ended"] as? String == "connected:+15550001111", "\(reports)")      // owner → dialfire
        #expect(byCaller["+15551230002"]?["ended"] as? String == "connected:sip:support@acme.sip.zendesk.com") // tier → zendesk
        let unknown = byCaller["+15559999999"]
        #expect((unknown?["heard"] as? [String])?.first?.contains("For Sales, press 1.") == true)               // no lead: the menu
        #expect(unknown?["ended"] as? String == "connected:sip:support@acme.sip.zendesk.com")                  // pressed 2

        // The audit-worker has every decision and step in Postgres; the trace shows the whole call.
        let log = AuditLog(redis: fleet.redis, postgres: fleet.postgres, keys: fleet.store.keys,
                           vault: CredentialVault(keyRing: try MasterKeyRing(keys: fleet.masterKeys, activeId: "k1"), postgres: fleet.postgres))
        let sid = byCaller["+15559999999"]?["callSid"] as? String ?? ""
        var trace: [AuditLog.Record] = []
        _ = try await TestServers.eventually(15) {
            trace = try await log.trace(tenant: voiceTenant, callId: sid)
            return trace.count >= 4
        }
        #expect(trace.map(\.kind) == ["decision", "step", "step", "step"], "\(trace)")
        #expect(trace.first?.compactDetail.contains(#""rule":"menu""#) == true)
        #expect(trace.contains { $0.compactDetail.contains(#""step":"menu:2→zendesk""#) })
        #expect(trace.last?.compactDetail.contains(#""step":"connected:zendesk""#) == true)
        let found = try await log.search(tenant: voiceTenant, from: Date().addingTimeInterval(-600), to: Date().addingTimeInterval(60),
                                         caller: try PhoneNumber(parsing: "+15551230001"))
        #expect(found.count == 1)
        #expect(found.first?.compactDetail.contains(#""rule":"owner""#) == true)
        #expect((found.first?.micros ?? 0) > 0)

        // Telnyx TeXML signs with Ed25519: with the account's public key set, the same flow works.
        let telnyx = Curve25519.Signing.PrivateKey()
        try await fleet.store.access.setTelnyxPublicKey(tenant: voiceTenant, publicKey: telnyx.publicKey.rawRepresentation.base64EncodedString())
        let viaTelnyx = try await fleet.call(from: ["+15551230001"], telnyxKey: telnyx.rawRepresentation.base64EncodedString())
        #expect(viaTelnyx.first?["ended"] as? String == "connected:+15550001111", "\(viaTelnyx)")
        let wrongKey = try await fleet.call(from: ["+15551230001"], telnyxKey: Curve25519.Signing.PrivateKey().rawRepresentation.base64EncodedString())
        #expect((wrongKey.first?["error"] as? String)?.contains("403") == true, "\(wrongKey)")

        // Every call's setup time (first webhook → connected) is on /metrics, and in the audit trail.
        let metrics = String(decoding: try await fleet.http.send(HTTPRequest(url: fleet.routerURL + "/metrics")).body, as: UTF8.self)
        let setups = metrics.split(separator: "\n").first { $0.hasPrefix("switchboard_call_setup_seconds_count") }.flatMap { Int($0.split(separator: " ").last ?? "") }
        #expect(setups == 4, "\(metrics)")
        #expect(trace.last?.compactDetail.contains(#""setupMs":""#) == true)

        // Requests not signed with the tenant's token, or for an unknown tenant, are refused.
        let form = "CallSid=CA1&From=%2B15551230001&To=%2B15550009999"
        let forged = try await fleet.http.send(HTTPRequest(method: "POST", url: fleet.routerURL + "/twiml/\(voiceTenant)/inbound",
                                                           headers: [("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl"), ("Content-Type", "application/x-www-form-urlencoded")],
                                                           body: Array(form.utf8)))
        #expect(forged.status == 403)
        let unsigned = try await fleet.http.send(HTTPRequest(method: "POST", url: fleet.routerURL + "/twiml/\(voiceTenant)/inbound", body: Array(form.utf8)))
        #expect(unsigned.status == 403)
        let stranger = try await fleet.http.send(HTTPRequest(method: "POST", url: fleet.routerURL + "/twiml/nobody/inbound",
                                                             headers: [("X-Twilio-Signature", "x")], body: Array(form.utf8)))
        #expect(stranger.status == 404)
        #expect(String(decoding: stranger.body, as: UTF8.self).contains("unknown tenant"))
        try await fleet.stop()
    }

    @Test func failedHandoffsRetryThenTryTheOtherDialerThenCascadeWithSMSAndCallback() async throws {
        let fleet = try await Fleet()
        // Scenario 2, one dialer: dialfire fails twice (retry), zendesk takes the call.
        try await fleet.dialfire.post("/_sim/answer", #"{"mode": "fail"}"#)
        let one = try await fleet.call(from: ["+15551230001"])
        #expect(one.first?["dials"] as? [String] == ["+15550001111=failed", "+15550001111=failed", "sip:support@acme.sip.zendesk.com=completed"], "\(one)")
        #expect(one.first?["ended"] as? String == "connected:sip:support@acme.sip.zendesk.com")

        // Both fail: hold message, 2 s pause, the primary again, the apology; pressing 1 files a callback.
        try await fleet.zendesk.post("/_sim/answer", #"{"mode": "busy"}"#)
        let both = try await fleet.call(from: ["+15551230001"], apologyDigits: "1")
        let dials = both.first?["dials"] as? [String] ?? []
        #expect(dials.count == 5, "\(both)")
        #expect(dials.last == "+15550001111=failed")
        let heard = both.first?["heard"] as? [String] ?? []
        #expect(heard.contains("Please hold while we connect you."))
        #expect(heard.contains { $0.contains("Press 1 to leave a callback number") })
        #expect(both.first?["ended"] as? String == "callback")
        // The crm-worker files the callback with dialfire and texts on-call once.
        #expect(try await TestServers.eventually(15) { ((try await fleet.simJSON(fleet.dialfire, "/_sim/callbacks")) as? [Any])?.count == 1 })
        #expect(try await TestServers.eventually(15) { ((try await fleet.simJSON(fleet.sms, "/_sim/messages")) as? [[String: Any]])?.first?["to"] as? String == "+15559990000" })
        // Without a key press the caller ends in the hold queue; no second SMS in the quiet period.
        let hold = try await fleet.call(from: ["+15551230002"])
        #expect(hold.first?["ended"] as? String == "queue:switchboard-hold-\(voiceTenant)", "\(hold)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(((try await fleet.simJSON(fleet.sms, "/_sim/messages")) as? [Any])?.count == 1)
        try await fleet.stop()
    }

    @Test func capacityAndBreakersSteerCallsAndRecover() async throws {
        let fleet = try await Fleet(staleMs: 1500, pollMs: 200)
        // Load balancing (a warm lead matches no owner or tier rule): the dialer with more free agents.
        try await fleet.zendesk.post("/_sim/agents", #"{"online": 6, "onCall": 1}"#)
        try await fleet.dialfire.post("/_sim/agents", #"{"online": 6, "onCall": 5}"#)
        try await Task.sleep(for: .milliseconds(800))
        let balanced = try await fleet.call(from: ["+15551230003"])
        #expect(balanced.first?["ended"] as? String == "connected:sip:support@acme.sip.zendesk.com", "\(balanced)")

        // Scenario 3: zendesk's stats fail; once its capacity is stale the preferred dialer (dialfire) gets the call.
        try await fleet.zendesk.post("/_sim/faults", #"{"outage": true}"#)
        // Scenario 4: three failed reads within a minute declare zendesk down, recorded as a transition.
        #expect(try await TestServers.eventually(10) { try await fleet.redis.send(["HGET", fleet.store.keys.health(voiceTenant), "zendesk"]).string == "down" })
        try await Task.sleep(for: .milliseconds(1600))
        let preferred = try await fleet.call(from: ["+15551230003"])
        #expect(preferred.first?["ended"] as? String == "connected:+15550001111", "\(preferred)")
        // A cold lead (tier → zendesk) goes to the working dialer while zendesk is down.
        let rerouted = try await fleet.call(from: ["+15551230002"])
        #expect(rerouted.first?["dials"] as? [String] == ["+15550001111=completed"], "\(rerouted)")

        // Recovery: three good reads bring zendesk back; both transitions are in the audit trail.
        try await fleet.zendesk.post("/_sim/faults", #"{"outage": false}"#)
        #expect(try await TestServers.eventually(10) { try await fleet.redis.send(["HGET", fleet.store.keys.health(voiceTenant), "zendesk"]).string == "up" })
        let transitions = try await CircuitBreaker(keys: fleet.store.keys).transitions(tenant: voiceTenant, redis: fleet.redis)
        #expect(transitions.map { "\($0.integration):\($0.to)" }.prefix(2) == ["zendesk:up", "zendesk:down"])
        let log = AuditLog(redis: fleet.redis, postgres: fleet.postgres, keys: fleet.store.keys,
                           vault: CredentialVault(keyRing: try MasterKeyRing(keys: fleet.masterKeys, activeId: "k1"), postgres: fleet.postgres))
        #expect(try await TestServers.eventually(15) { try await log.transitions(tenant: voiceTenant).count >= 2 })

        // On-call got an email when zendesk's failure rate passed 5 % and one when it recovered.
        #expect(try await TestServers.eventually(10) { fleet.mails().contains { ($0["data"] as? String)?.contains("Subject: Switchboard: zendesk recovered for acme") == true } },
                "\(fleet.mails())")
        let rate = fleet.mails().first { ($0["data"] as? String)?.contains("Subject: Switchboard: zendesk failing for acme") == true }
        #expect(rate?["to"] as? [String] == ["jordan@acme.example"], "\(fleet.mails())")
        try await fleet.stop()
    }

    @Test func auditRecordsWaitInTheStreamWhilePostgresIsUnavailableAndNoneIsLost() async throws {
        let fleet = try await Fleet()
        let key = try await fleet.store.credentials.createAPIKey(tenant: voiceTenant, createdBy: "test").key
        // The audit table disappears: every write of the worker fails (a real server stop is in
        // ops/bench/validation-gate; here other suites share the server).
        try await fleet.postgres.query("ALTER TABLE routing_audit RENAME TO routing_audit_away")
        var ok = 0
        for i in 0..<200 {
            let r = try await fleet.http.send(.json("POST", fleet.routerURL + "/v1/route", body: #"{"callId":"pgdown-\#(i)","caller":"+15551230001"}"#,
                                                     headers: [("Authorization", "Bearer \(key)")]))
            if r.status == 200 { ok += 1 }
        }
        #expect(ok == 200) // routing never waits on Postgres
        try await Task.sleep(for: .seconds(2))
        let backlog = try await fleet.redis.send(["XLEN", fleet.store.keys.auditStream]).int ?? 0
        #expect(backlog >= 200, "the stream holds the backlog")
        #expect(fleet.audit.isRunning, "\(fleet.audit.log)")
        // Postgres is back: the backlog drains, every decision exactly once.
        try await fleet.postgres.query("ALTER TABLE routing_audit_away RENAME TO routing_audit")
        var stored = 0
        _ = try await TestServers.eventually(30) {
            stored = Int(try await fleet.postgres.query("SELECT count(DISTINCT call_id) AS n FROM routing_audit WHERE call_id LIKE 'pgdown-%'").value(0, "n") ?? "0") ?? 0
            return stored == 200
        }
        #expect(stored == 200)
        let rows = Int(try await fleet.postgres.query("SELECT count(*) AS n FROM routing_audit WHERE call_id LIKE 'pgdown-%'").value(0, "n") ?? "0") ?? 0
        #expect(rows == 200)
        #expect(try await TestServers.eventually(10) { (try await fleet.redis.send(["XLEN", fleet.store.keys.auditStream]).int ?? -1) == 0 })
        try await fleet.stop()
    }
}

extension AuditLog.Record {
    /// The detail without the spaces Postgres's jsonb output puts after ':' and ','.
    var compactDetail: String { detail.replacingOccurrences(of: ": ", with: ":").replacingOccurrences(of: ", ", with: ",") }
}
