import Curl
import Foundation
import Imports
import Queue
import RoutingCore
import Testing
import VendorClients

/// Every connector and vendor client against its simulator's hostile mode: absurd numbers, NaN
/// headers, NUL bytes, invalid UTF-8, malformed JSON, a 10 MB body, a 100 KB header and a slow
/// drip. Each costs one failed call with a reason (or a clean answer), never a trap, and the
/// next call works again.
@Suite(.serialized, .needsServers) struct HostileVendorTests {
    static let kinds = ["retry-after-huge", "reset-nan", "json-nul", "invalid-utf8", "malformed-json", "huge-body", "absurd-headers"]

    /// Runs `call` once per hostile kind and once cleanly; returns the failures' messages.
    func drive(_ simulator: SimulatorProcess, kinds: [String] = kinds, _ call: @Sendable () async throws -> Void) async throws -> [String: String] {
        var outcomes: [String: String] = [:]
        for kind in kinds {
            try await simulator.post("/_sim/faults", #"{"hostile": "\#(kind)", "hostileNext": 1}"#)
            do {
                try await call()
                outcomes[kind] = "answered"
            } catch let failure as JobFailure {
                if case .rateLimited(let ms) = failure.code { #expect((0...86_400_000).contains(ms), "\(kind): \(ms)") }
                outcomes[kind] = failure.message
            } catch {
                outcomes[kind] = "\(error)"
            }
            #expect(simulator.child.isRunning)
        }
        try await simulator.post("/_sim/faults", "{}")
        try await call() // and the next call works
        return outcomes
    }

    @Test func importConnectorsTakeEveryHostileAnswer() async throws {
        let http = HTTPClient(maxConnections: 2)
        let fathom = try await SimulatorProcess("fathom", ["--calls", "20", "--seed", "2", "--limit", "1000/m", "--heavy-limit", "1000/m"])
        let grain = try await SimulatorProcess("grain", ["--calls", "20", "--seed", "2"])
        let gong = try await SimulatorProcess("gong", ["--calls", "20", "--seed", "2", "--rate-limit", "100/s"])
        defer { [fathom, grain, gong].forEach { $0.child.kill() } }
        let settings = ConnectorSettings(gongBaseURL: gong.url, fathomBaseURL: fathom.url + "/external/v1", grainBaseURL: grain.url + "/_/public-api", http: http)
        let from = Date(timeIntervalSince1970: 1_735_689_600), to = from.addingTimeInterval(365 * 86_400)
        let connectors: [(SimulatorProcess, any CallConnector)] = [
            (gong, try settings.connector(platform: "gong", credentials: ["accessKey": "gong-access-key", "accessKeySecret": "gong-secret"])),
            (fathom, try settings.connector(platform: "fathom", credentials: ["apiKey": "fathom-api-key"])),
            (grain, try settings.connector(platform: "grain", credentials: ["token": "grain-token"])),
        ]
        for (simulator, connector) in connectors {
            // No hostile answer passes for a page: one read as a (last) page would end the listing early.
            let outcomes = try await drive(simulator) { _ = try await connector.page(from: from, to: to, cursor: nil) }
            #expect(outcomes.values.allSatisfy { $0 != "answered" }, "\(type(of: connector)): \(outcomes)")
        }
        // An absurd count is a bad answer, never read as "no calls" (the validation would end the import).
        let counted = try await drive(gong, kinds: ["json-nul", "malformed-json"]) { _ = try await connectors[0].1.countCalls(from: from, to: to) }
        #expect(counted.values.allSatisfy { $0 != "answered" }, "\(counted)")
        await http.shutdown()
    }

    @Test func routingClientsTakeEveryHostileAnswer() async throws {
        let http = HTTPClient(maxConnections: 2)
        let zendesk = try await SimulatorProcess("zendesk-talk", ["--token", "zd", "--email", "api@acme.example"])
        let dialfire = try await SimulatorProcess("dialfire", ["--tenant", "acme", "--line", "in-1", "--token", "df", "--limit", "1000/s"])
        let sms = try await SimulatorProcess("sms", ["--auth-token", "sms"])
        let braze = try await SimulatorProcess("braze", ["--api-key", "bz", "--users", "10"])
        defer { [zendesk, dialfire, sms, braze].forEach { $0.child.kill() } }
        let dialers = DialerClient(http: http)
        let zd = RoutingIntegration(tenant: "acme", id: "zendesk", kind: .zendeskTalk, baseURL: zendesk.url, settings: ["email": "api@acme.example"])
        let df = RoutingIntegration(tenant: "acme", id: "dialfire", kind: .dialfire, baseURL: dialfire.url, settings: ["tenant": "acme", "line": "in-1"])
        let text = RoutingIntegration(tenant: "acme", id: "sms", kind: .sms, baseURL: sms.url,
                                      settings: ["accountSid": "AC00000000000000000000000000000000", "from": "+15550000001", "to": "+15559990000"])
        _ = try await drive(zendesk) { _ = try await dialers.freeAgents(zd, credentials: "zd") }
        _ = try await drive(dialfire) { _ = try await dialers.freeAgents(df, credentials: "df") }
        _ = try await drive(sms) { try await SMSClient(http: http).send("hello", integration: text, authToken: "sms") }
        let client = BrazeClient(http: http, baseURL: braze.url, apiKey: "bz")
        let outcomes = try await drive(braze) { _ = try await client.lead(phone: "+15550000001") }
        #expect(outcomes["reset-nan"] != "answered", "\(outcomes)")
        await http.shutdown()
    }

    @Test func aHostileMailRelayCostsOneFailedAlertEmail() async throws {
        let sender = MailSender(maxConnections: 5)
        let mailbox = NSTemporaryDirectory() + "sb-mail-\(UUID().uuidString)"
        let started = ContinuousClock.now
        let outcomes = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for kind in ["garbage", "reject", "silent", "huge-line", "drip"] {
                group.addTask {
                    let relay = try await SimulatorProcess("smtp", ["--mailbox", mailbox, "--hostile", kind])
                    defer { relay.child.kill() }
                    let email = RoutingIntegration(tenant: "acme", id: "email", kind: .email, baseURL: "smtp://127.0.0.1:\(relay.port)",
                                                   settings: ["from": "switchboard@acme.example", "to": "ops@acme.example"])
                    do {
                        try await EmailClient(sender: sender).send(subject: "Dialer down", body: "zendesk", integration: email, credentials: "none")
                        return (kind, "sent")
                    } catch {
                        #expect(relay.child.isRunning)
                        return (kind, "\(error)")
                    }
                }
            }
            var all: [String: String] = [:]
            for try await (kind, outcome) in group { all[kind] = outcome }
            return all
        }
        #expect(outcomes.count == 5)
        #expect(outcomes.values.allSatisfy { $0 != "sent" }, "\(outcomes)")
        // Each costs at most the relay timeout (10 s), all at once here.
        #expect(ContinuousClock.now - started < .seconds(30))
        await sender.shutdown()
    }

    @Test func aSlowDripCostsOneTimedOutCall() async throws {
        let http = HTTPClient(maxConnections: 1)
        let zendesk = try await SimulatorProcess("zendesk-talk", ["--token", "zd", "--email", "api@acme.example"])
        defer { zendesk.child.kill() }
        let zd = RoutingIntegration(tenant: "acme", id: "zendesk", kind: .zendeskTalk, baseURL: zendesk.url, settings: ["email": "api@acme.example"])
        let started = ContinuousClock.now
        let outcomes = try await drive(zendesk, kinds: ["slow-drip"]) { _ = try await DialerClient(http: http).freeAgents(zd, credentials: "zd") }
        #expect(outcomes["slow-drip"] != "answered")
        #expect(ContinuousClock.now - started < .seconds(20))
        await http.shutdown()
    }
}
