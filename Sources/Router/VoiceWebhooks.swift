import Basics
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import Observability
import Redis
import Routing
import RoutingCore

/// The TwiML webhooks of a Twilio-compatible voice front door, per tenant:
/// `POST /twiml/{tenant}/inbound` (route the call: Dial or the DTMF menu),
/// `/menu` (the key pressed), `/dial-result` (DialCallStatus → the next cascade step),
/// `/callback` (the apology menu) and `/hold`. Every request must carry a valid signature:
/// `X-Twilio-Signature` (Twilio, SignalWire) made with the tenant's voice token, or Telnyx's
/// `telnyx-signature-ed25519` checked with the tenant's Telnyx public key. Every step is audited.
/// Also `POST /v1/calls/{id}/outcome` for dialers (API key), queued for write-back to Braze.
struct VoiceWebhooks: Sendable {
    let service: RouteService
    let voice: VoiceCalls
    let publicURL: String
    let defaultCountryCode: String
    let logger = Logger(label: "switchboard.router.voice")
    /// From a call's first webhook to the step that connected it (or queued it, or took a callback).
    let setupTime = Timer(label: "switchboard_call_setup_seconds", preferredDisplayUnit: .seconds)

    struct Signed {
        let tenant: String
        let parameters: [String: String]
        var callId: String { parameters["CallSid"] ?? "" }
        var caller: String { parameters["From"] ?? "" }
    }

    static func xml(_ twiml: TwiML) -> Response {
        Response(status: .ok, headers: [.contentType: "text/xml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: twiml.description)))
    }

    /// Reads the form body and checks the signature against the tenant's token.
    func verify(_ request: Request, _ context: BasicRequestContext) async throws -> Signed {
        guard let tenant = context.parameters.get("tenant"), !tenant.isEmpty else { throw JSONFailure(.badRequest, "tenant missing in path") }
        // Checked before any lookup, so no cache ever keeps an entry for a tenant that cannot exist.
        if let problem = TenantID.problem(tenant) { throw JSONFailure(.badRequest, problem) }
        let body = try await request.body.collect(upTo: 64 * 1024)
        let pairs = TwilioSignature.formParameters(String(buffer: body))
        if let signature = request.headers[HTTPField.Name("telnyx-signature-ed25519")!] {
            // Telnyx TeXML: Ed25519 over "<timestamp>|<raw body>" with the account's public key.
            let publicKey: String?
            do { publicKey = try await voice.telnyxPublicKey(tenant: tenant) } catch {
                throw JSONFailure(.serviceUnavailable, "Telnyx key of tenant \(tenant) cannot be read")
            }
            guard let publicKey else { throw JSONFailure(.notFound, "unknown tenant \(tenant) (no Telnyx public key configured)") }
            let timestamp = request.headers[HTTPField.Name("telnyx-timestamp")!] ?? ""
            guard TelnyxSignature.isValid(signature: signature, timestamp: timestamp, body: Array(buffer: body), publicKey: publicKey) else {
                throw JSONFailure(.forbidden, "telnyx-signature-ed25519 does not match (or telnyx-timestamp is more than 5 minutes off)")
            }
        } else {
            let tokens: [String]
            do { tokens = try await voice.tokens(tenant: tenant) } catch {
                logger.error("voice token unavailable", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
                throw JSONFailure(.serviceUnavailable, "voice token of tenant \(tenant) cannot be read")
            }
            guard !tokens.isEmpty else { throw JSONFailure(.notFound, "unknown tenant \(tenant) (no live voice token configured)") }
            guard let signature = request.headers[HTTPField.Name("X-Twilio-Signature")!]
                    ?? request.headers[HTTPField.Name("X-SignalWire-Signature")!] else {
                throw JSONFailure(.forbidden, "X-Twilio-Signature header missing")
            }
            let base = BaseURL.trimmed(publicURL)
            // During a rotation's overlap, the old and the new token both sign validly.
            guard tokens.contains(where: { TwilioSignature.isValid(signature, url: base + request.uri.string, parameters: pairs, token: $0) }) else {
                throw JSONFailure(.forbidden, "X-Twilio-Signature does not match (URL \(base + request.uri.path))")
            }
        }
        var parameters: [String: String] = [:]
        for (name, value) in pairs where parameters[name] == nil { parameters[name] = value }
        guard let sid = parameters["CallSid"], !sid.isEmpty else { throw JSONFailure(.badRequest, "CallSid missing") }
        // Everything the audit chain keeps of the call is checked here (the signature proves who
        // sent it, not that it is storable).
        for (name, value) in parameters {
            if let problem = UntrustedText.problem(value, maxBytes: name == "CallSid" ? 200 : 1000, allowEmpty: name != "CallSid") {
                throw JSONFailure(.badRequest, "\(String(name.prefix(40))) \(problem)")
            }
        }
        return Signed(tenant: tenant, parameters: parameters)
    }

    func flow(_ tenant: String) async throws -> CallFlow {
        do { return CallFlow(tenant: tenant, rules: try await service.activeRules(tenant: tenant), baseURL: publicURL) } catch let error as RoutingError {
            throw JSONFailure(.conflict, error.message)
        } catch {
            // No rules known here and Redis unreachable: 503, so the platform turns to its fallback URL.
            throw JSONFailure(.serviceUnavailable, "routing state unavailable: \(error)")
        }
    }

    /// Answers with a step after carrying out its effects and auditing it. The first step of a call
    /// starts its setup clock; the step that connects (or queues) it records the setup time.
    func respond(_ step: CallFlow.Step, _ call: Signed, detail: [String: String], first: Bool = false) async -> Response {
        await voice.apply(step.effects, tenant: call.tenant, callId: call.callId, caller: call.caller)
        var detail = detail
        let key = service.keys.callStart(call.tenant, call.callId)
        let nowMs = Int(Date().timeIntervalSince1970 * 1000)
        if first {
            _ = try? await service.redis.pipeline([["SET", key, String(nowMs), "NX", "EX", "7200"]])
        } else if step.name.hasPrefix("connected:") || step.name == "hold-queue" || step.name == "callback" {
            if let started = (try? await service.redis.pipeline([["GET", key], ["DEL", key]]))?.first?.int {
                setupTime.recordMilliseconds(nowMs - started)
                detail["setupMs"] = String(nowMs - started)
            }
        }
        detail["twiml"] = step.twiml.description
        await voice.audit(tenant: call.tenant, callId: call.callId, caller: call.caller, step: step.name, detail: detail)
        return Self.xml(step.twiml)
    }

    func routes(into router: Router<BasicRequestContext>) {
        let group = router.group("/twiml/:tenant")
        group.post("inbound") { request, context -> Response in
            let call = try await verify(request, context)
            let flow = try await flow(call.tenant)
            do {
                let routed = try await service.route(RouteService.Call(callId: call.callId, caller: call.caller, called: call.parameters["To"]),
                                                     tenant: call.tenant, defaultCountryCode: defaultCountryCode)
                return await respond(flow.inbound(routed.decision), call, detail: ["decisionId": routed.decisionId, "rule": routed.decision.rule], first: true)
            } catch let error as RoutingError where error.code == .invalidInput {
                // Withheld or unparseable caller id: no lead can match, so the menu (or the default dialer).
                let decision = flow.rules.decide(RoutingInput(lead: .notFound, now: Date()))
                return await respond(flow.inbound(decision), call, detail: ["callerUnusable": error.message], first: true)
            } catch is RedisError {
                // Scenario 1 at the cache: no lead data reachable, the caller is waiting: default dialer.
                let dialer = flow.rules.defaultDialer
                return await respond(CallFlow.Step(twiml: flow.dial(dialer, phase: .primary, attempt: 1, primary: dialer), effects: [],
                                                   name: "dial:\(dialer)"), call, detail: ["fallback": "cache_unavailable"], first: true)
            }
        }
        group.post("menu") { request, context -> Response in
            let call = try await verify(request, context)
            let digits = call.parameters["Digits"].flatMap { $0.isEmpty ? nil : $0 }
            return await respond(try await flow(call.tenant).menu(digits: digits), call, detail: ["digits": digits ?? ""])
        }
        group.post("dial-result") { request, context -> Response in
            let call = try await verify(request, context)
            let query = request.uri.queryParameters
            guard let dialer = query["dialer"].map(String.init), let phase = query["phase"].flatMap({ CallFlow.Phase(rawValue: String($0)) }),
                  let attempt = query["attempt"].flatMap({ Int(String($0)) }), let primary = query["primary"].map(String.init) else {
                throw JSONFailure(.badRequest, "dial-result needs dialer, phase, attempt and primary in the query")
            }
            guard let status = call.parameters["DialCallStatus"], !status.isEmpty else { throw JSONFailure(.badRequest, "DialCallStatus missing") }
            let health = (try? await service.health(tenant: call.tenant)) ?? [:]
            let step = try await flow(call.tenant).afterDial(status: status, dialer: dialer, phase: phase, attempt: attempt, primary: primary, health: health)
            return await respond(step, call, detail: ["dialer": dialer, "status": status, "phase": phase.rawValue, "attempt": String(attempt)])
        }
        group.post("callback") { request, context -> Response in
            let call = try await verify(request, context)
            let dialer = request.uri.queryParameters["dialer"].map(String.init) ?? ""
            let digits = call.parameters["Digits"]
            return await respond(try await flow(call.tenant).callback(digits: digits, dialer: dialer), call, detail: ["digits": digits ?? ""])
        }
        group.post("hold") { request, context -> Response in
            let call = try await verify(request, context)
            return await respond(try await flow(call.tenant).hold(), call, detail: [:])
        }
    }
}
