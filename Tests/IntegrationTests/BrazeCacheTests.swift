import Foundation
import Curl
import Queue
import Redis
import Routing
import RoutingCore
import Testing

/// The Braze lead cache end to end: the nightly segment export, live lookups on a miss within
/// the cutoff (and scenario 1 when Braze is slow), the change webhook, and outcome write-back
/// in batches of up to 75.
@Suite(.serialized, .needsServers) struct BrazeCacheTests {
    typealias Fleet = VoiceFrontDoorTests.Fleet

    func route(_ fleet: Fleet, key: String, caller: String, id: String) async throws -> [String: Any] {
        let r = try await fleet.http.send(.json("POST", fleet.routerURL + "/v1/route", body: #"{"callId":"\#(id)","caller":"\#(caller)"}"#,
                                                headers: [("Authorization", "Bearer \(key)")]))
        return (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? ["status": r.status]
    }

    func brazeUser(_ fleet: Fleet, phone: String) async throws -> [String: String] {
        let r = try await fleet.http.send(.json("POST", fleet.braze.url + "/users/export/ids",
                                                body: #"{"phone":"\#(phone)","fields_to_export":["custom_attributes"]}"#,
                                                headers: [("Authorization", "Bearer braze-key")]))
        let users = ((try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any])?["users"] as? [[String: Any]]
        return (users?.first?["custom_attributes"] as? [String: String]) ?? [:]
    }

    @Test func nightlyExportFillsTheCacheAndMissesAreLookedUpLive() async throws {
        let fleet = try await Fleet()
        let key = try await fleet.store.credentials.createAPIKey(tenant: voiceTenant, createdBy: "test").key
        // A miss: the router asks Braze live (budget and cutoff allow) and caches the answer.
        let expected = try await brazeUser(fleet, phone: "+15550000007")
        let live = try await route(fleet, key: key, caller: "+15550000007", id: "live-1")
        #expect(live["rule"] != nil, "\(live)")
        let sealed = try await fleet.leads.leads(voiceTenant)
        /// The cached lead of a number, opened; and its raw Redis hash (one sealed value only).
        func cachedLead(_ phone: String) async throws -> (opened: [String: String], raw: [String: String]) {
            let raw = try await fleet.redis.send(["HGETALL", sealed.leadKey(try PhoneNumber(parsing: phone))]).hash
            return (sealed.open(raw[SealedLeads.field]) ?? [:], raw)
        }
        var cached: [String: String] = [:]
        _ = try await TestServers.eventually(5) {
            cached = try await cachedLead("+15550000007").opened
            return !cached.isEmpty
        }
        if let owner = expected["lead_owner"] {
            #expect(cached["lead_owner"] == owner, "\(cached)")
            #expect(!(try await cachedLead("+15550000007").raw.values.contains(owner)), "the cached value is sealed")
        }
        if expected["lead_owner"] == "alice@demo.example" { #expect(live["dialer"] as? String == "dialfire") }

        // The nightly refresh: the scheduler's job exports the segment (3 files of 25) into the cache.
        let queue = try JobQueue(name: "routing", prefix: fleet.prefix, redis: fleet.redis)
        _ = try await queue.enqueue(NewJob(type: "crm.refresh-all", key: "braze-refresh"))
        var leads = 0
        _ = try await TestServers.eventually(20) {
            leads = try await TestServers.keys(prefix: fleet.prefix + ":{routing:\(voiceTenant)}:lead", redis: fleet.redis).count
            return leads >= 60
        }
        #expect(leads >= 60)
        let u12 = try await brazeUser(fleet, phone: "+15550000012")
        let c12 = try await cachedLead("+15550000012").opened
        #expect(c12.values.contains(u12["lead_owner"] ?? u12["lead_score_tier"] ?? "1"), "\(c12) vs \(u12)")
        #expect(c12["lead_score"] == nil, "only the fields routing uses are cached")
        // No key names a number: every lead key ends in a 32-hex-digit blind index.
        let leadKeys = try await TestServers.keys(prefix: fleet.prefix + ":{routing:\(voiceTenant)}:lead", redis: fleet.redis)
        #expect(leadKeys.allSatisfy { !$0.contains("+") && $0.split(separator: ":").last?.count == 32 }, "\(leadKeys.prefix(3))")

        // A change in Braze: its webhook makes the crm-worker refresh that one lead.
        try await fleet.braze.post("/_sim/change", #"{"external_id": "u12", "custom_attributes": {"lead_owner": "zoe@demo.example"}}"#)
        #expect(try await TestServers.eventually(15) {
            (try await cachedLead("+15550000012").opened["lead_owner"]) == "zoe@demo.example"
        })
        try await fleet.stop()
    }

    @Test func slowBrazeFallsBackWithinTheCutoffAndTripsItsBreaker() async throws {
        let fleet = try await Fleet()
        let key = try await fleet.store.credentials.createAPIKey(tenant: voiceTenant, createdBy: "test").key
        try await fleet.braze.post("/_sim/faults", #"{"latencyMs": 4000}"#)
        var decisions: [[String: Any]] = []
        for i in 0..<3 {
            let started = Date()
            let d = try await route(fleet, key: key, caller: "+155500000\(20 + i)", id: "slow-\(i)")
            #expect(Date().timeIntervalSince(started) < 2.5, "the 1.5 s cutoff bounds the wait")
            decisions.append(d)
        }
        // Scenario 1: the default dialer, no retry; the audit says why.
        #expect(decisions.allSatisfy { $0["dialer"] as? String == "zendesk" && $0["rule"] as? String == "default" }, "\(decisions)")
        #expect((decisions.first?["fallbacks"] as? [String])?.first?.hasPrefix("crm_unavailable:braze_timeout") == true, "\(decisions)")
        // Three failures within a minute: Braze is down; the next miss falls back at once.
        #expect(try await fleet.redis.send(["HGET", fleet.store.keys.health(voiceTenant), "braze"]).string == "down")
        let started = Date()
        let fast = try await route(fleet, key: key, caller: "+15550000030", id: "slow-fast")
        #expect(Date().timeIntervalSince(started) < 0.5)
        #expect((fast["fallbacks"] as? [String])?.first == "crm_unavailable:braze_down", "\(fast)")

        // Braze answers in time again: the crm-worker's cache-fill lookups of the queued misses
        // are three successes, and Braze is declared recovered without anyone stepping in.
        try await fleet.braze.post("/_sim/faults", #"{"latencyMs": 0}"#)
        for i in 0..<3 { _ = try await route(fleet, key: key, caller: "+155500000\(40 + i)", id: "after-\(i)") }
        #expect(try await TestServers.eventually(20) { try await fleet.redis.send(["HGET", fleet.store.keys.health(voiceTenant), "braze"]).string == "up" })
        try await fleet.stop()
    }

    @Test func anOutcomeForATenantWithoutBrazeIsQuarantinedAndTheOthersAreStillWritten() async throws {
        let fleet = try await Fleet()
        let key = try await fleet.store.credentials.createAPIKey(tenant: voiceTenant, createdBy: "test").key
        let stranger = try await fleet.store.credentials.createAPIKey(tenant: "no-braze", createdBy: "test").key
        func outcome(_ id: String, _ key: String) async throws -> Int {
            try await fleet.http.send(.json("POST", fleet.routerURL + "/v1/calls/\(id)/outcome", body: #"{"caller": "+15550001234", "outcome": "connected"}"#,
                                            headers: [("Authorization", "Bearer \(key)")])).status
        }
        // The stranger's outcome is first in the stream: it must not hold up the ones behind it.
        #expect(try await outcome("lost-1", stranger) == 202)
        for i in 0..<5 { #expect(try await outcome("kept-\(i)", key) == 202) }
        var events = 0
        _ = try await TestServers.eventually(15) {
            let r = try await fleet.http.send(HTTPRequest(url: fleet.braze.url + "/_sim/tracked"))
            let batches = ((try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
            events = batches.reduce(0) { $0 + (($1["events"] as? [Any])?.count ?? 0) }
            return events == 5
        }
        #expect(events == 5)
        let quarantine = Quarantine(postgres: fleet.postgres)
        #expect(try await TestServers.eventually(10) { try await quarantine.list(source: .outcome).count == 1 })
        let kept = try await quarantine.list(source: .outcome)
        #expect(kept.first?.tenant == "no-braze")
        #expect(kept.first?.reason.contains("no Braze integration") == true)
        #expect(kept.first?.payload.contains("lost-1") == true)
        #expect(try await TestServers.eventually(5) { (try await fleet.redis.send(["XLEN", fleet.store.keys.outcomes]).int ?? -1) == 0 })
        try await fleet.stop()
    }

    @Test func outcomesAreWrittenBackInBatchesOfAtMost75() async throws {
        let fleet = try await Fleet()
        let key = try await fleet.store.credentials.createAPIKey(tenant: voiceTenant, createdBy: "test").key
        for i in 0..<80 {
            let r = try await fleet.http.send(.json("POST", fleet.routerURL + "/v1/calls/out-\(i)/outcome",
                                                    body: #"{"caller": "+1555000\#(String(format: "%04d", i))", "outcome": "connected", "dialer": "zendesk", "durationSeconds": \#(i)}"#,
                                                    headers: [("Authorization", "Bearer \(key)")]))
            #expect(r.status == 202)
        }
        let bad = try await fleet.http.send(.json("POST", fleet.routerURL + "/v1/calls/x/outcome", body: #"{"caller": "+15550000001", "outcome": "exploded"}"#,
                                                  headers: [("Authorization", "Bearer \(key)")]))
        #expect(bad.status == 400)
        #expect(try await fleet.http.send(.json("POST", fleet.routerURL + "/v1/calls/x/outcome", body: "{}")).status == 401)
        var batches: [[String: Any]] = []
        _ = try await TestServers.eventually(15) {
            let r = try await fleet.http.send(HTTPRequest(url: fleet.braze.url + "/_sim/tracked"))
            batches = ((try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
            return batches.reduce(0) { $0 + (($1["events"] as? [Any])?.count ?? 0) } == 80
        }
        let sizes = batches.map { ($0["events"] as? [Any])?.count ?? 0 }
        #expect(sizes.reduce(0, +) == 80, "\(sizes)")
        #expect(sizes.allSatisfy { $0 <= 75 })
        #expect(batches.allSatisfy { ($0["attributes"] as? [Any])?.count == ($0["events"] as? [Any])?.count })
        #expect(try await TestServers.eventually(5) { (try await fleet.redis.send(["XLEN", fleet.store.keys.outcomes]).int ?? -1) == 0 })
        try await fleet.stop()
    }
}
