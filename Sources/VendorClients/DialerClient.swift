import Foundation
import Basics
import Curl
import Queue
import RoutingCore

/// Talks to a tenant's dialers: free agents (for load balancing and health) and callback
/// requests. Zendesk Talk: `agents_activity` (online agents without a call) and
/// `callback_requests`, Basic `{email}/token:{api_token}`. Dialfire: `lines/stats` of the
/// tenant's inbound line and `lines/{line}/callback`, Bearer token. HTTP failures come back as
/// `JobFailure`s (429 → rate limited with Retry-After, 5xx → retryable, 401/403 → fatal).
public struct DialerClient: Sendable {
    public let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    static func basic(email: String, token: String) -> String {
        "Basic " + Data("\(email)/token:\(token)".utf8).base64EncodedString()
    }

    func headers(_ integration: RoutingIntegration, _ credentials: String) -> [(String, String)] {
        let auth = integration.kind == .zendeskTalk ? Self.basic(email: integration.settings["email"] ?? "", token: credentials) : "Bearer \(credentials)"
        return [("Authorization", auth), ("Accept", "application/json")]
    }

    func base(_ integration: RoutingIntegration) -> String { BaseURL.trimmed(integration.baseURL) }

    /// Zendesk Talk's `agents_activity` answer (the members read here).
    struct AgentsActivity: Decodable {
        struct Agent: Decodable { let agent_state: String?; let call_status: String? }
        let agents_activity: [Agent]
        /// Set while more pages remain (Zendesk's offset pagination).
        let next_page: String?
    }

    /// Most pages of agents read per poll (100 agents a page).
    static let maxAgentPages = 5
    /// One line of Dialfire's `lines/stats` answer.
    struct LineStats: Decodable { let line: String?; let agents_ready: Int? }
    /// Zendesk Talk's `callback_requests` body.
    struct ZendeskCallback: Encodable {
        struct Request: Encodable { let requester_phone_number: String; let phone_number_id: Int? }
        let callback_request: Request
    }
    /// Dialfire's `lines/{line}/callback` body.
    struct DialfireCallback: Encodable { let phoneNumber: String; let instant = true; let campaignId: String? }

    func send(_ request: HTTPRequest, _ what: String) async throws -> [UInt8] {
        let response = try await http.send(request)
        if let failure = JobFailure(httpStatus: response.status, retryAfterMs: response.retryAfterMs, context: what) { throw failure }
        return response.body
    }

    /// Agents free to take a call right now.
    public func freeAgents(_ integration: RoutingIntegration, credentials: String) async throws -> Int {
        switch integration.kind {
        case .zendeskTalk:
            // Page by page on our own base URL (next_page names the account's zendesk.com host).
            var free = 0
            for page in 1...Self.maxAgentPages {
                let url = base(integration) + "/api/v2/channels/voice/stats/agents_activity.json?per_page=100&page=\(page)"
                let body = try await send(HTTPRequest(url: url, headers: headers(integration, credentials), timeoutMs: 3000), "zendesk agents_activity")
                guard let activity = try? JSONDecoder().decode(AgentsActivity.self, from: Data(body)) else {
                    throw JobFailure(.retryable, "zendesk agents_activity: unexpected body")
                }
                free += activity.agents_activity.filter { $0.agent_state == "online" && $0.call_status == nil }.count
                if activity.next_page == nil { break }
            }
            return free
        case .dialfire:
            let tenant = integration.settings["tenant"] ?? "", line = integration.settings["line"] ?? ""
            let url = base(integration) + "/api/tenants/\(tenant)/lines/stats"
            let body = try await send(HTTPRequest(url: url, headers: headers(integration, credentials), timeoutMs: 3000), "dialfire lines/stats")
            guard let lines = try? JSONDecoder().decode([LineStats].self, from: Data(body)),
                  let stats = lines.first(where: { $0.line == line }), let ready = stats.agents_ready, ready >= 0 else {
                throw JobFailure(.retryable, "dialfire lines/stats: line \(line) missing")
            }
            return ready
        case .braze, .sms, .email:
            throw JobFailure(.fatal, "\(integration.kind.rawValue) is not a dialer")
        }
    }

    /// Files a request for the dialer to call `phone` back.
    public func fileCallback(_ integration: RoutingIntegration, credentials: String, phone: String) async throws {
        switch integration.kind {
        case .zendeskTalk:
            let request = ZendeskCallback.Request(requester_phone_number: phone, phone_number_id: integration.settings["phoneNumberId"].flatMap { Int($0) })
            let body = try JSONEncoder().encode(ZendeskCallback(callback_request: request))
            _ = try await send(HTTPRequest(method: "POST", url: base(integration) + "/api/v2/channels/voice/callback_requests.json",
                                           headers: headers(integration, credentials) + [("Content-Type", "application/json")], body: Array(body)),
                               "zendesk callback_requests")
        case .dialfire:
            let tenant = integration.settings["tenant"] ?? "", line = integration.settings["line"] ?? ""
            let body = try JSONEncoder().encode(DialfireCallback(phoneNumber: phone, campaignId: integration.settings["campaign"]))
            _ = try await send(HTTPRequest(method: "POST", url: base(integration) + "/api/tenants/\(tenant)/lines/\(line)/callback",
                                           headers: headers(integration, credentials) + [("Content-Type", "application/json")], body: Array(body)),
                               "dialfire callback")
        case .braze, .sms, .email:
            throw JobFailure(.fatal, "\(integration.kind.rawValue) is not a dialer")
        }
    }
}
