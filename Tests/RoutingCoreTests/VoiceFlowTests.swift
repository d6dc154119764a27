import Crypto
import Foundation
import Testing
@testable import RoutingCore

/// Signatures, TwiML rendering and the call flow's cascade, as pure functions.
@Suite struct VoiceFlowTests {
    let rules = RoutingRules(
        dialers: [.init(id: "zendesk", kind: .zendeskTalk, target: "sip:support@acme.sip.zendesk.com"),
                  .init(id: "dialfire", kind: .dialfire, target: "+15550001111")],
        defaultDialer: "zendesk", preferredDialer: "dialfire",
        menu: [.init(digit: "1", label: "Sales & Renewals", dialer: "dialfire")])

    var flow: CallFlow { CallFlow(tenant: "acme", rules: rules, baseURL: "https://router.example/") }

    @Test func signatureMatchesTwiliosPublishedExample() {
        // The example of Twilio's security documentation and helper libraries.
        let params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675310"), ("Digits", "1234"), ("From", "+14158675310"), ("To", "+18005551212")]
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        #expect(TwilioSignature.compute(url: url, parameters: params, token: "12345") == "GvWf1cFY/Q7PnoempGyD5oXAezc=")
        #expect(TwilioSignature.isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: url, parameters: params.reversed(), token: "12345"))
        #expect(!TwilioSignature.isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: url, parameters: params, token: "54321"))
        #expect(!TwilioSignature.isValid("GvWf1cFY/Q7PnoempGyD5oXAezc=", url: url + "&baz=3", parameters: params, token: "12345"))
        #expect(!TwilioSignature.isValid("", url: url, parameters: params, token: "12345"))
    }

    @Test func formBodiesRoundTrip() {
        let params = [("From", "+1 (555) 010-0001"), ("Body", "a&b=c ü")]
        #expect(TwilioSignature.formParameters(TwilioSignature.formBody(params)).map { "\($0.0)=\($0.1)" } == ["From=+1 (555) 010-0001", "Body=a&b=c ü"])
        #expect(TwilioSignature.formParameters("Digits=1+2&Empty=&Flag").map(\.1) == ["1 2", "", ""])
    }

    @Test func twimlRendersEscapedVerbsEveryPlatformReads() {
        let twiml = TwiML([.say("Tom & Jerry's <office>"), .pause(seconds: 2),
                           .gather(numDigits: 1, timeoutSeconds: 5, action: "https://r/menu?a=1&b=2", prompt: "Press 1"),
                           .dial(target: "sip:x@y", timeoutSeconds: 20, action: "https://r/d"), .dial(target: "+15550001111", timeoutSeconds: 20, action: "https://r/d"),
                           .redirect("https://r/hold"), .enqueue("q"), .hangup])
        #expect(twiml.description == #"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Tom &amp; Jerry&apos;s &lt;office&gt;</Say><Pause length="2"/>"#
            + #"<Gather input="dtmf" numDigits="1" timeout="5" action="https://r/menu?a=1&amp;b=2" method="POST"><Say>Press 1</Say></Gather>"#
            + #"<Dial timeout="20" action="https://r/d" method="POST"><Sip>sip:x@y</Sip></Dial><Dial timeout="20" action="https://r/d" method="POST"><Number>+15550001111</Number></Dial>"#
            + #"<Redirect method="POST">https://r/hold</Redirect><Enqueue>q</Enqueue><Hangup/></Response>"#)
    }

    @Test func inboundDialsTheDecisionOrPlaysTheMenu() {
        let step = flow.inbound(RoutingDecision(action: .dial(dialer: "dialfire", target: "+15550001111"), rule: "owner", fallbacks: []))
        #expect(step.twiml.verbs == [.dial(target: "+15550001111", timeoutSeconds: 20,
                                           action: "https://router.example/twiml/acme/dial-result?dialer=dialfire&phase=primary&attempt=1&primary=dialfire")])
        let menu = flow.inbound(RoutingDecision(action: .menu, rule: "menu", fallbacks: []))
        guard case .gather(_, _, let action, let prompt) = menu.twiml.verbs.first else { Issue.record("no gather"); return }
        #expect(action == "https://router.example/twiml/acme/menu")
        #expect(prompt == "For Sales & Renewals, press 1.")
        #expect(menu.twiml.verbs.last == .redirect("https://router.example/twiml/acme/menu"))
        #expect(flow.menu(digits: "1").name == "menu:1→dialfire")
        #expect(flow.menu(digits: "9").name == "menu:none→zendesk")
        #expect(flow.menu(digits: nil).name == "menu:none→zendesk")
    }

    @Test func failedHandoffRetriesOnceThenOtherDialerThenCascade() {
        let s1 = flow.afterDial(status: "failed", dialer: "dialfire", phase: .primary, attempt: 1, primary: "dialfire")
        #expect(s1.name == "retry:dialfire")
        #expect(s1.effects == [.breaker(dialer: "dialfire", success: false)])
        let s2 = flow.afterDial(status: "failed", dialer: "dialfire", phase: .primary, attempt: 2, primary: "dialfire")
        #expect(s2.name == "other:zendesk")
        let s3 = flow.afterDial(status: "busy", dialer: "zendesk", phase: .other, attempt: 1, primary: "dialfire")
        #expect(s3.name == "retry:zendesk")
        #expect(s3.effects.isEmpty) // busy is the agents' state, not a failed integration
        let s4 = flow.afterDial(status: "no-answer", dialer: "zendesk", phase: .other, attempt: 2, primary: "dialfire")
        #expect(s4.name == "cascade:hold")
        #expect(s4.effects == [.bothDialersFailed])
        #expect(Array(s4.twiml.verbs.prefix(2)) == [.say(CallFlow.holdMessage), .pause(seconds: 2)])
        guard case .dial(let target, _, let action) = s4.twiml.verbs.last else { Issue.record("no dial"); return }
        #expect(target == "+15550001111")
        #expect(action.contains("phase=cascade"))
        let s5 = flow.afterDial(status: "failed", dialer: "dialfire", phase: .cascade, attempt: 1, primary: "dialfire")
        #expect(s5.name == "apology")
        guard case .gather(_, _, let callbackURL, let prompt) = s5.twiml.verbs.first else { Issue.record("no gather"); return }
        #expect(prompt == CallFlow.apology)
        #expect(callbackURL == "https://router.example/twiml/acme/callback?dialer=dialfire")
        #expect(s5.twiml.verbs.last == .redirect("https://router.example/twiml/acme/hold"))
        #expect(flow.callback(digits: "1", dialer: "dialfire").effects == [.fileCallback(dialer: "dialfire")])
        #expect(flow.callback(digits: nil, dialer: "dialfire").name == "hold-queue")
        #expect(flow.hold().twiml.verbs.last == .enqueue("switchboard-hold-acme"))
    }

    @Test func aConnectedCallEndsAndCountsAsSuccessAndDownDialersAreSkipped() {
        let done = flow.afterDial(status: "completed", dialer: "zendesk", phase: .other, attempt: 2, primary: "dialfire")
        #expect(done.twiml.verbs == [.hangup])
        #expect(done.effects == [.breaker(dialer: "zendesk", success: true)])
        // The other dialer is declared down: straight to the cascade after the retry.
        let skip = flow.afterDial(status: "failed", dialer: "dialfire", phase: .primary, attempt: 2, primary: "dialfire", health: ["zendesk": .down])
        #expect(skip.name == "cascade:hold")
        #expect(skip.effects == [.breaker(dialer: "dialfire", success: false), .bothDialersFailed])
        // Both declared down at decision time: the cascade starts with the preferred dialer.
        let both = flow.inbound(RoutingDecision(action: .cascade, rule: "cascade", fallbacks: []))
        #expect(both.effects == [.bothDialersFailed])
    }

    @Test func rulesDiffSaysWhatChanged() {
        var after = rules
        after.tierRoutes["hot"] = "dialfire"
        after.defaultDialer = "dialfire"
        #expect(RulesDiff.describe(before: rules, after: after) == ["defaultDialer zendesk → dialfire", "tier 'hot': none → dialfire"])
        #expect(RulesDiff.describe(before: nil, after: rules) == ["first version"])
        #expect(RulesDiff.describe(before: rules, after: rules).isEmpty)
    }
}

/// The hot path's flat-object reader agrees with JSONDecoder or declines.
@Suite struct TelnyxSignatureTests {
    @Test func verifiesTimestampPipeBodyWithThePublicKey() throws {
        let key = Curve25519.Signing.PrivateKey()
        let publicKey = key.publicKey.rawRepresentation.base64EncodedString()
        let body = Array("CallSid=CA1&From=%2B15551230001".utf8)
        let now = Date()
        let timestamp = String(Int(now.timeIntervalSince1970))
        let signature = try key.signature(for: Data(timestamp.utf8) + Data("|".utf8) + Data(body)).base64EncodedString()
        #expect(TelnyxSignature.isValid(signature: signature, timestamp: timestamp, body: body, publicKey: publicKey, now: now))
        #expect(!TelnyxSignature.isValid(signature: signature, timestamp: timestamp, body: body + [0x41], publicKey: publicKey, now: now))
        #expect(!TelnyxSignature.isValid(signature: signature, timestamp: String(Int(now.timeIntervalSince1970) + 1), body: body, publicKey: publicKey, now: now))
        #expect(!TelnyxSignature.isValid(signature: signature, timestamp: timestamp, body: body, publicKey: publicKey, now: now.addingTimeInterval(600)))
        let other = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation.base64EncodedString()
        #expect(!TelnyxSignature.isValid(signature: signature, timestamp: timestamp, body: body, publicKey: other, now: now))
        #expect(!TelnyxSignature.isValid(signature: "garbage", timestamp: timestamp, body: body, publicKey: publicKey, now: now))
        #expect(TelnyxSignature.isPublicKey(publicKey))
        #expect(!TelnyxSignature.isPublicKey("c2hvcnQ="))
    }
}
