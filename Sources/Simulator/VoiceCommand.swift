import ArgumentParser
import Crypto
import Foundation
import Curl
import NIOConcurrencyHelpers

/// `simulator voice`: the voice front door, as a Twilio-compatible platform would behave. It
/// places calls against the router's TwiML webhooks (form posts signed with X-Twilio-Signature, or
/// like Telnyx with Ed25519),
/// follows the TwiML it gets back — Say (heard), Pause (waited), Gather (presses the digits it is
/// told to), Dial (rings the simulated dialer that owns the target, which answers, is busy,
/// does not answer or fails, then posts DialCallStatus to the action URL), Redirect, Enqueue,
/// Hangup — and reports per call what the caller heard and where the call ended, one JSON line
/// each, then a summary line. Thousands of calls at a set concurrency for load tests.
struct VoiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "voice", abstract: "Place test calls through the router's TwiML endpoints.")

    @Option(help: "The router's base URL.") var router: String
    @Option(help: "Tenant id (the webhook path).") var tenant: String
    @Option(help: "The tenant's voice token: requests are signed like Twilio (X-Twilio-Signature).") var token: String?
    @Option(help: "Sign like Telnyx instead (telnyx-signature-ed25519) with this Ed25519 private key (base64).") var telnyxPrivateKey: String?
    @Option(name: .customLong("from"), help: "Caller number; repeat for several, used in turn.") var callers: [String] = ["+15550100001"]
    @Option(help: "The number called.") var to = "+15550009999"
    @Option(help: "Digits pressed at the first menu (empty: press nothing).") var menuDigits = "1"
    @Option(help: "Digits pressed at the apology menu (1: leave a callback).") var apologyDigits = ""
    @Option(name: .customLong("dialer"), help: "target=URL of the dialer simulator owning a SIP URI or number; repeatable.") var dialers: [String] = []
    @Option(help: "Calls to place.") var calls = 1
    @Option(help: "Calls in flight at once.") var concurrency = 1
    @Option(help: "Start at most this many calls per second (0: as fast as concurrency allows).") var rate = 0.0
    @Option(help: "Multiply Pause lengths by this (1 = real time).") var pauseScale = 1.0
    @Option(help: "Print one JSON line per call (otherwise only the summary).") var perCall = true

    struct CallReport: Codable, Sendable {
        let callSid: String
        let from: String
        var heard: [String] = []
        var dials: [String] = []
        var ended = "hangup"
        var setupMs: Int?
        var requests = 0
        var error: String?
    }

    /// Call SIDs are unique across runs, as the platform's are: 16 random hex digits per run, then the call number.
    static let runId = String(format: "%016llx", UInt64.random(in: 0...UInt64.max))

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    func validate() throws {
        guard calls > 0, concurrency > 0 else { throw ValidationError("--calls and --concurrency must be positive") }
        guard (token == nil) != (telnyxPrivateKey == nil) else { throw ValidationError("give exactly one of --token and --telnyx-private-key") }
        if let key = telnyxPrivateKey, (Data(base64Encoded: key).flatMap { try? Curve25519.Signing.PrivateKey(rawRepresentation: $0) }) == nil {
            throw ValidationError("--telnyx-private-key must be base64 of a 32-byte Ed25519 key")
        }
        for dialer in dialers where !dialer.contains("=") { throw ValidationError("--dialer must look like target=URL") }
    }

    func run() async throws {
        let http = simulatorHTTPClient(maxConnections: concurrency * 2, timeoutMs: 20_000)
        var targets: [String: String] = [:]
        for dialer in dialers {
            let parts = dialer.split(separator: "=", maxSplits: 1)
            targets[String(parts[0])] = String(parts[1])
        }
        let base = router.hasSuffix("/") ? String(router.dropLast()) : router
        let inbound = base + "/twiml/\(tenant)/inbound"
        let counter = NIOLockedValueBox(0)
        let reports = NIOLockedValueBox<[CallReport]>([])
        let started = Date()
        let command = self
        let targetMap = targets
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let n = counter.withLockedValue { c -> Int in c += 1; return c }
                        if n > command.calls { return }
                        if command.rate > 0 {
                            let due = started.addingTimeInterval(Double(n - 1) / command.rate).timeIntervalSinceNow
                            if due > 0 { try? await Task.sleep(for: .milliseconds(Int(due * 1000))) }
                        }
                        let report = await command.place(n, inbound: inbound, targets: targetMap, http: http)
                        if command.perCall, let line = try? VoiceCommand.encoder.encode(report) { print(String(decoding: line, as: UTF8.self)) }
                        reports.withLockedValue { $0.append(report) }
                    }
                }
            }
        }
        await http.shutdown()
        let all = reports.withLockedValue { $0 }
        let setups = all.compactMap(\.setupMs).sorted()
        func pct(_ p: Double) -> Int { setups.isEmpty ? 0 : setups[min(setups.count - 1, Int(Double(setups.count) * p))] }
        var endings: [String: Int] = [:]
        for r in all { endings[r.ended.split(separator: ":").first.map(String.init) ?? r.ended, default: 0] += 1 }
        let summary: [String: Any] = ["calls": all.count, "errors": all.filter { $0.error != nil }.count, "endings": endings,
                                      "setup_p50_ms": pct(0.5), "setup_p99_ms": pct(0.99), "seconds": Date().timeIntervalSince(started)]
        print(String(decoding: try JSONSerialization.data(withJSONObject: ["summary": summary], options: [.sortedKeys]), as: UTF8.self))
    }

    func place(_ n: Int, inbound: String, targets: [String: String], http: HTTPClient) async -> CallReport {
        let sid = "CA" + Self.runId + String(format: "%016x", n)
        let from = callers[(n - 1) % callers.count]
        var report = CallReport(callSid: sid, from: from)
        let start = DispatchTime.now().uptimeNanoseconds
        var params = [("CallSid", sid), ("AccountSid", "AC0000000000000000000000000000sim"), ("From", from), ("To", to),
                      ("CallStatus", "ringing"), ("Direction", "inbound"), ("ApiVersion", "2010-04-01")]
        var url = inbound
        var menus = 0
        do {
            fetch: while report.requests < 30 {
                report.requests += 1
                let verbs = try await post(url, params, http: http)
                params = params.filter { !["Digits", "DialCallStatus", "DialCallSid"].contains($0.0) }
                for verb in verbs {
                    switch verb.name {
                    case "Say": report.heard.append(verb.text)
                    case "Pause":
                        let seconds = Double(verb.attributes["length"] ?? "1") ?? 1
                        try await Task.sleep(for: .milliseconds(Int(seconds * 1000 * pauseScale)))
                    case "Gather":
                        report.heard.append(verb.text)
                        menus += 1
                        let digits = menus == 1 && !verb.text.contains("technical difficulties") ? menuDigits : apologyDigits
                        if !digits.isEmpty, let action = verb.attributes["action"] {
                            params.append(("Digits", digits))
                            url = action
                            continue fetch
                        }
                    case "Dial":
                        let target = verb.text
                        var status = "failed"
                        if let dialer = targets[target] {
                            let reply = try? await http.send(HTTPRequest(method: "POST", url: dialer + "/_sim/ring"))
                            let object = reply.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] }
                            status = object?["status"] as? String ?? "failed"
                        }
                        report.dials.append("\(target)=\(status)")
                        if status == "completed" && report.setupMs == nil {
                            report.setupMs = Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
                            report.ended = "connected:\(target)"
                        }
                        guard let action = verb.attributes["action"] else { break fetch }
                        params.append(("DialCallStatus", status))
                        params.append(("DialCallSid", "CA" + Self.runId + String(format: "%016x", n * 100 + report.dials.count)))
                        url = action
                        continue fetch
                    case "Redirect":
                        url = verb.text
                        continue fetch
                    case "Enqueue":
                        report.ended = "queue:\(verb.text)"
                        report.setupMs = report.setupMs ?? Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
                        break fetch
                    case "Hangup":
                        if report.ended == "hangup", report.heard.last?.contains("call you back") == true { report.ended = "callback" }
                        break fetch
                    default:
                        break
                    }
                }
                break
            }
        } catch {
            report.error = "\(error)"
            report.ended = "error"
        }
        return report
    }

    struct VoiceError: Error, CustomStringConvertible { let description: String }

    /// Posts signed form parameters and parses the TwiML answer.
    func post(_ url: String, _ params: [(String, String)], http: HTTPClient) async throws -> [TwiMLVerb] {
        let body = Self.form(params)
        var headers = [("Content-Type", "application/x-www-form-urlencoded")]
        if let key = telnyxPrivateKey.flatMap({ Data(base64Encoded: $0) }).flatMap({ try? Curve25519.Signing.PrivateKey(rawRepresentation: $0) }) {
            let timestamp = String(Int(Date().timeIntervalSince1970))
            let signature = try key.signature(for: Data(timestamp.utf8) + Data("|".utf8) + Data(body.utf8))
            headers += [("telnyx-timestamp", timestamp), ("telnyx-signature-ed25519", signature.base64EncodedString())]
        } else {
            headers.append(("X-Twilio-Signature", Self.sign(url: url, params: params, token: token ?? "")))
        }
        let request = HTTPRequest(method: "POST", url: url, headers: headers, body: Array(body.utf8))
        let response = try await http.send(request)
        guard response.status == 200 else {
            throw VoiceError(description: "\(url) answered \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))")
        }
        return try TwiMLVerb.parse(String(decoding: response.body, as: UTF8.self))
    }

    /// Twilio's scheme: Base64(HMAC-SHA1(token, URL + each parameter name and value, sorted by name)).
    static func sign(url: String, params: [(String, String)], token: String) -> String {
        let data = url + params.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { $0.0 + $0.1 }.joined()
        return Data(HMAC<Insecure.SHA1>.authenticationCode(for: Data(data.utf8), using: SymmetricKey(data: Data(token.utf8)))).base64EncodedString()
    }

    static func form(_ params: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return params.map { ($0.0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.0) + "=" + ($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1) }
            .joined(separator: "&")
    }
}

/// One top-level verb of a TwiML document, with its attributes and the text inside it (for
/// Gather: the text of its Say; for Dial: the Number or Sip).
struct TwiMLVerb: Sendable {
    let name: String
    let attributes: [String: String]
    let text: String

    /// A small reader for the flat TwiML a router returns (no namespaces, no CDATA).
    static func parse(_ xml: String) throws -> [TwiMLVerb] {
        guard let open = xml.range(of: "<Response>"), let close = xml.range(of: "</Response>", options: .backwards) else {
            throw VoiceCommand.VoiceError(description: "not TwiML: \(xml.prefix(120))")
        }
        var rest = Substring(xml[open.upperBound..<close.lowerBound])
        var verbs: [TwiMLVerb] = []
        while let start = rest.firstIndex(of: "<") {
            guard let end = rest[start...].firstIndex(of: ">") else { break }
            let tag = rest[rest.index(after: start)..<end]
            let selfClosing = tag.hasSuffix("/")
            let body = selfClosing ? tag.dropLast() : tag
            let name = String(body.split(separator: " ", maxSplits: 1).first ?? "")
            var attributes: [String: String] = [:]
            let pattern = try NSRegularExpression(pattern: #"(\w+)="([^"]*)""#)
            let text = String(body)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let k = Range(match.range(at: 1), in: text), let v = Range(match.range(at: 2), in: text) {
                    attributes[String(text[k])] = unescape(String(text[v]))
                }
            }
            rest = rest[rest.index(after: end)...]
            var inner = ""
            if !selfClosing, let closing = rest.range(of: "</\(name)>") {
                inner = String(rest[..<closing.lowerBound])
                rest = rest[closing.upperBound...]
            }
            let plain = inner.replacingOccurrences(of: #"<[^>]+>"#, with: " ", options: .regularExpression)
                .trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "  ", with: " ")
            verbs.append(TwiMLVerb(name: name, attributes: attributes, text: unescape(plain)))
        }
        return verbs
    }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }
}
