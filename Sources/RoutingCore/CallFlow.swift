import Basics
import Foundation

/// The voice front door's call flow (scenario 2 and the DTMF menu), as pure steps: given where a
/// call is and what just happened, the TwiML to answer with and the side effects to carry out.
///
/// A handoff that fails gets one immediate retry on the same dialer, then the other dialer (also
/// retried once), then the cascade: "please hold", 2 s pause, the primary dialer once more, then
/// the apology with "press 1 for a callback", and last the hold queue. The state travels in the
/// action URLs, which the platform signs with every request.
public struct CallFlow: Sendable {
    public let tenant: String
    public let rules: RoutingRules
    /// The router's public base URL as the voice platform sees it (signatures cover it).
    public let baseURL: String
    public let dialTimeoutSeconds: Int

    public static let holdMessage = "Please hold while we connect you."
    public static let apology = "We're experiencing technical difficulties. Press 1 to leave a callback number or hold for the next available agent."
    public static let callbackThanks = "Thank you. We will call you back at this number as soon as an agent is free."
    public static let holdQueueMessage = "Please hold for the next available agent."

    public init(tenant: String, rules: RoutingRules, baseURL: String, dialTimeoutSeconds: Int = 20) {
        self.tenant = tenant
        self.rules = rules
        self.baseURL = baseURL
        self.dialTimeoutSeconds = dialTimeoutSeconds
    }

    /// Where in the cascade a dial attempt is.
    public enum Phase: String, Sendable { case primary, other, cascade }

    /// What the router does besides answering.
    public enum Effect: Sendable, Equatable {
        /// Count a handoff result on the dialer's shared circuit breaker.
        case breaker(dialer: String, success: Bool)
        /// Both dialers failed: alert on-call by SMS.
        case bothDialersFailed
        /// File a callback request with the dialer for the caller's number.
        case fileCallback(dialer: String)
    }

    /// One step: the TwiML, the side effects, and a name for the audit trail.
    public struct Step: Sendable, Equatable {
        public let twiml: TwiML
        public let effects: [Effect]
        public let name: String

        public init(twiml: TwiML, effects: [Effect], name: String) {
            self.twiml = twiml
            self.effects = effects
            self.name = name
        }
    }

    func url(_ path: String, _ query: [(String, String)] = []) -> String {
        let base = BaseURL.trimmed(baseURL)
        // A tenant id is made of URL-unreserved characters only (`TenantID`): never escaped, so
        // the follow-up request names the same tenant.
        return base + "/twiml/\(tenant)/\(path)" + (query.isEmpty ? "" : "?" + TwilioSignature.formBody(query))
    }

    /// Dials `dialer` as attempt `attempt` of `phase`.
    public func dial(_ dialer: String, phase: Phase, attempt: Int, primary: String, before: [TwiML.Verb] = []) -> TwiML {
        let target = rules.dialer(dialer)?.target ?? ""
        let action = url("dial-result", [("dialer", dialer), ("phase", phase.rawValue), ("attempt", String(attempt)), ("primary", primary)])
        return TwiML(before + [.dial(target: target, timeoutSeconds: dialTimeoutSeconds, action: action)])
    }

    /// The answer to an inbound call, from the routing decision.
    public func inbound(_ decision: RoutingDecision) -> Step {
        switch decision.action {
        case .dial(let dialer, _):
            return Step(twiml: dial(dialer, phase: .primary, attempt: 1, primary: dialer), effects: [], name: "dial:\(dialer)")
        case .menu:
            let prompt = rules.menu.map { "For \($0.label), press \($0.digit)." }.joined(separator: " ")
            return Step(twiml: TwiML([.gather(numDigits: 1, timeoutSeconds: 5, action: url("menu"), prompt: prompt), .redirect(url("menu"))]),
                        effects: [], name: "menu")
        case .cascade:
            return cascadeStart(primary: rules.preferredDialer)
        }
    }

    /// The answer to a menu choice; no key or an unknown key goes to the default dialer.
    public func menu(digits: String?) -> Step {
        if let digits, let dialer = rules.menuChoice(digit: digits) {
            return Step(twiml: dial(dialer, phase: .primary, attempt: 1, primary: dialer), effects: [], name: "menu:\(digits)→\(dialer)")
        }
        let dialer = rules.defaultDialer
        return Step(twiml: dial(dialer, phase: .primary, attempt: 1, primary: dialer), effects: [], name: "menu:none→\(dialer)")
    }

    /// The next step after a dial ended with `status` (the platform's DialCallStatus).
    /// `health`: dialers currently declared down are skipped.
    public func afterDial(status: String, dialer: String, phase: Phase, attempt: Int, primary: String,
                          health: [String: RoutingInput.Health] = [:]) -> Step {
        let connected = status == "completed" || status == "answered"
        // Only a failed handoff counts against the dialer; busy / no-answer are the agents' state.
        let breaker: [Effect] = connected ? [.breaker(dialer: dialer, success: true)] : status == "failed" ? [.breaker(dialer: dialer, success: false)] : []
        if connected { return Step(twiml: TwiML([.hangup]), effects: breaker, name: "connected:\(dialer)") }
        switch (phase, attempt) {
        case (.primary, 1), (.other, 1):
            return Step(twiml: dial(dialer, phase: phase, attempt: 2, primary: primary), effects: breaker, name: "retry:\(dialer)")
        case (.primary, _):
            if let other = rules.dialers.first(where: { $0.id != dialer && health[$0.id] != .down })?.id {
                return Step(twiml: dial(other, phase: .other, attempt: 1, primary: primary), effects: breaker, name: "other:\(other)")
            }
            let start = cascadeStart(primary: primary)
            return Step(twiml: start.twiml, effects: breaker + start.effects, name: start.name)
        case (.other, _):
            let start = cascadeStart(primary: primary)
            return Step(twiml: start.twiml, effects: breaker + start.effects, name: start.name)
        case (.cascade, _):
            return Step(twiml: TwiML([.gather(numDigits: 1, timeoutSeconds: 5, action: url("callback", [("dialer", primary)]), prompt: Self.apology),
                                      .redirect(url("hold"))]),
                        effects: breaker, name: "apology")
        }
    }

    /// Both dialers failed: alert, ask the caller to hold, pause 2 s, try the primary once more.
    func cascadeStart(primary: String) -> Step {
        Step(twiml: dial(primary, phase: .cascade, attempt: 1, primary: primary, before: [.say(Self.holdMessage), .pause(seconds: 2)]),
             effects: [.bothDialersFailed], name: "cascade:hold")
    }

    /// The apology menu's answer: 1 files a callback request; anything else holds.
    public func callback(digits: String?, dialer: String) -> Step {
        if digits == "1" {
            return Step(twiml: TwiML([.say(Self.callbackThanks), .hangup]), effects: [.fileCallback(dialer: dialer)], name: "callback")
        }
        return hold()
    }

    /// The last resort: the hold queue that any free agent of either system can take.
    public func hold() -> Step {
        Step(twiml: TwiML([.say(Self.holdQueueMessage), .enqueue("switchboard-hold-\(tenant)")]), effects: [], name: "hold-queue")
    }
}
