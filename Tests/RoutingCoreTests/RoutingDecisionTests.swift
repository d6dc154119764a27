import Foundation
import Testing
@testable import RoutingCore

@Suite struct PhoneNumberTests {
    @Test(arguments: [("+1 (555) 123-4567", "1", "+15551234567"), ("555.123.4567", "1", "+15551234567"), ("1-555-123-4567", "1", "+15551234567"),
                      ("0049 30 1234567", "1", "+49301234567"), ("030 1234567", "49", "+49301234567"), ("+44 20 7946 0958", "1", "+442079460958"),
                      // One key however a UK number is written.
                      ("+44 (0)20 7946 0958", "1", "+442079460958"), ("+44 020 7946 0958", "1", "+442079460958"),
                      ("0044 (0)20 7946 0958", "1", "+442079460958"), ("020 7946 0958", "44", "+442079460958"),
                      ("+49 (0)30 1234567", "1", "+49301234567"),
                      // Italian numbers keep their leading 0, nationally and internationally.
                      ("06 6982 1234", "39", "+390669821234"), ("+39 06 6982 1234", "1", "+390669821234"),
                      ("0039 06 6982 1234", "1", "+390669821234"), ("+39 333 123 4567", "1", "+393331234567")])
    func normalisesToE164(_ raw: String, _ country: String, _ expected: String) throws {
        #expect(try PhoneNumber(parsing: raw, defaultCountryCode: country).e164 == expected)
    }

    @Test(arguments: ["", "anonymous", "12345", "555-CALL-NOW", "+1234567890123456", "++15551234567", "+0123456789"])
    func rejectsWhatIsNotANumber(_ raw: String) {
        #expect(throws: RoutingError.self) { try PhoneNumber(parsing: raw) }
    }
}

@Suite struct RoutingDecisionTests {
    let rules = RoutingRules(
        timeZone: "America/New_York",
        dialers: [.init(id: "zendesk", kind: .zendeskTalk, target: "sip:support@acme.zendesk.com"),
                  .init(id: "dialfire", kind: .dialfire, target: "+15550001111")],
        defaultDialer: "zendesk", preferredDialer: "dialfire",
        ownerRoutes: ["alice": "dialfire"], tierRoutes: ["hot": "dialfire", "cold": "zendesk"],
        menu: [.init(digit: "1", label: "Sales", dialer: "dialfire"), .init(digit: "2", label: "Support", dialer: "zendesk")])
    let noon = ISO8601DateFormatter().date(from: "2026-03-02T17:00:00Z")! // Monday 12:00 in New York

    func decide(_ lead: RoutingInput.Lead, rules: RoutingRules? = nil, health: [String: RoutingInput.Health] = [:],
                free: [String: Int?] = [:], at date: Date? = nil) -> RoutingDecision {
        (rules ?? self.rules).decide(RoutingInput(lead: lead, now: date ?? noon, health: health, freeAgents: free))
    }

    @Test func ownerWinsOverTier() {
        let d = decide(.found(["lead_owner": "alice", "lead_score_tier": "cold"]))
        #expect(d.action == .dial(dialer: "dialfire", target: "+15550001111"))
        #expect(d.rule == "owner")
    }

    @Test func scenario5MissingFields() {
        // Owner empty, tier present: the tier decides.
        #expect(decide(.found(["lead_owner": "", "lead_score_tier": "cold"])).rule == "tier")
        // An owner without a rule falls through to the tier.
        #expect(decide(.found(["lead_owner": "bob", "lead_score_tier": "hot"])).action == .dial(dialer: "dialfire", target: "+15550001111"))
        // Neither: the default dialer.
        var plain = rules
        plain.loadBalancing = false
        let d = decide(.found([:]), rules: plain)
        #expect(d.action == .dial(dialer: "zendesk", target: "sip:support@acme.zendesk.com"))
        #expect(d.rule == "default")
        #expect(d.fallbacks == ["missing_fields"])
    }

    @Test func theRoutingFieldIsConfigurable() {
        var custom = rules
        custom.ownerField = "account_manager"
        #expect(decide(.found(["account_manager": "alice"]), rules: custom).rule == "owner")
        #expect(decide(.found(["lead_owner": "alice", "lead_score_tier": "cold"]), rules: custom).rule == "tier")
    }

    @Test func scenario1CRMFailureGoesToTheDefaultWithoutRetry() {
        let d = decide(.unavailable(reason: "timeout_1500ms"))
        #expect(d.action == .dial(dialer: "zendesk", target: "sip:support@acme.zendesk.com"))
        #expect(d.fallbacks == ["crm_unavailable:timeout_1500ms"])
    }

    @Test func noLeadDataPlaysTheMenu() {
        #expect(decide(.notFound).action == .menu)
        #expect(rules.menuChoice(digit: "1") == "dialfire")
        #expect(rules.menuChoice(digit: "9") == nil)
    }

    @Test func loadBalancingPicksTheDialerWithMostFreeAgents() {
        let d = decide(.found([:]), free: ["zendesk": 2, "dialfire": 7])
        #expect(d.rule == "load_balancing")
        #expect(d.action == .dial(dialer: "dialfire", target: "+15550001111"))
    }

    @Test func scenario3UnknownCapacityGoesToThePreferredDialer() {
        let d = decide(.found([:]), free: ["zendesk": 2, "dialfire": nil])
        #expect(d.rule == "preferred")
        #expect(d.action == .dial(dialer: "dialfire", target: "+15550001111"))
        #expect(d.fallbacks == ["capacity_unknown"])
    }

    @Test func scenario4DownDialersAreAvoidedAndBothDownCascade() {
        let d = decide(.found(["lead_owner": "alice"]), health: ["dialfire": .down])
        #expect(d.action == .dial(dialer: "zendesk", target: "sip:support@acme.zendesk.com"))
        #expect(d.rule == "owner")
        #expect(d.fallbacks == ["dialer_down:dialfire"])
        let both = decide(.found(["lead_owner": "alice"]), health: ["dialfire": .down, "zendesk": .down])
        #expect(both.action == .cascade)
        // Unknown health is not down.
        #expect(decide(.found(["lead_owner": "alice"]), health: ["dialfire": .unknown]).action == .dial(dialer: "dialfire", target: "+15550001111"))
    }

    @Test func timeRulesFollowTheTenantsClockAcrossDaylightSaving() throws {
        var timed = rules
        timed.timeRules = [.init(days: [1, 2, 3, 4, 5], start: "09:00", end: "17:00", dialer: "dialfire"),
                           .init(days: [1, 2, 3, 4, 5, 6, 7], start: "17:00", end: "09:00", dialer: "zendesk")]
        let f = ISO8601DateFormatter()
        // 13:30 UTC is 08:30 in New York in winter (EST) but 09:30 after the switch to EDT on 2026-03-08.
        #expect(decide(.found([:]), rules: timed, at: f.date(from: "2026-03-06T13:30:00Z")!).action == .dial(dialer: "zendesk", target: "sip:support@acme.zendesk.com"))
        #expect(decide(.found([:]), rules: timed, at: f.date(from: "2026-03-09T13:30:00Z")!).action == .dial(dialer: "dialfire", target: "+15550001111"))
        // Saturday noon: the weekday rule does not cover Saturdays and the evening rule starts at 17:00,
        // so the later rules (load balancing, here without capacity data: the preferred dialer) decide.
        let saturday = decide(.found([:]), rules: timed, at: f.date(from: "2026-03-07T17:00:00Z")!)
        #expect(saturday.rule == "load_balancing" || saturday.rule == "preferred")
        #expect(decide(.found([:]), rules: timed, at: f.date(from: "2026-03-07T23:30:00Z")!).rule == "time")
    }

    @Test func rulesPointingAtUnknownDialersAreRejected() throws {
        try rules.validate()
        var bad = rules
        bad.tierRoutes["warm"] = "avaya"
        #expect(throws: RoutingError.self) { try bad.validate() }
        do { try bad.validate() } catch let e as RoutingError { #expect(e.message.contains("unknown dialer 'avaya'")) }
        var badTime = rules
        badTime.timeRules = [.init(days: [8], start: "09:00", end: "17:00", dialer: "zendesk")]
        #expect(throws: RoutingError.self) { try badTime.validate() }
        var badZone = rules
        badZone.timeZone = "Mars/Olympus"
        #expect(throws: RoutingError.self) { try badZone.validate() }
    }
}
