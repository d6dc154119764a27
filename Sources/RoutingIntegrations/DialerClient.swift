import Foundation
import HTTPClient
import Queue
import Routing

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

    func base(_ integration: RoutingIntegration) -> String {
        integration.baseURL.hasSuffix("/") ? String(integration.baseURL.dropLast()) : integration.baseURL
    }

    func send(_ request: HTTPRequest, _ what: String) async throws -> [UInt8] {
        let response = try await http.send(request)
        if let failure = JobFailure(httpStatus: response.status, retryAfterMs: response.retryAfterMs, context: what) { throw failure }
        return response.body
    }

    /// Agents free to take a call right now.
    public func freeAgents(_ integration: RoutingIntegration, credentials: String) async throws -> Int {
        switch integration.kind {
        case .zendeskTalk:
            let url = base(integration) + "/api/v2/channels/voice/stats/agents_activity.json"
            let body = try await send(HTTPRequest(url: url, headers: headers(integration, credentials), timeoutMs: 3000), "zendesk agents_activity")
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                  let agents = object["agents_activity"] as? [[String: Any]] else { throw JobFailure(.retryable, "zendesk agents_activity: unexpected body") }
            return agents.filter { ($0["agent_state"] as? String) == "online" && ($0["call_status"] == nil || $0["call_status"] is NSNull) }.count
        case .dialfire:
            let tenant = integration.settings["tenant"] ?? "", line = integration.settings["line"] ?? ""
            let url = base(integration) + "/api/tenants/\(tenant)/lines/stats"
            let body = try await send(HTTPRequest(url: url, headers: headers(integration, credentials), timeoutMs: 3000), "dialfire lines/stats")
            guard let lines = try? JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]],
                  let stats = lines.first(where: { ($0["line"] as? String) == line }), let ready = stats["agents_ready"] as? Int else {
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
            var request: [String: Any] = ["requester_phone_number": phone]
            if let id = integration.settings["phoneNumberId"].flatMap({ Int($0) }) { request["phone_number_id"] = id }
            let body = try JSONSerialization.data(withJSONObject: ["callback_request": request])
            _ = try await send(HTTPRequest(method: "POST", url: base(integration) + "/api/v2/channels/voice/callback_requests.json",
                                           headers: headers(integration, credentials) + [("Content-Type", "application/json")], body: Array(body)),
                               "zendesk callback_requests")
        case .dialfire:
            let tenant = integration.settings["tenant"] ?? "", line = integration.settings["line"] ?? ""
            var payload: [String: Any] = ["phoneNumber": phone, "instant": true]
            if let campaign = integration.settings["campaign"] { payload["campaignId"] = campaign }
            let body = try JSONSerialization.data(withJSONObject: payload)
            _ = try await send(HTTPRequest(method: "POST", url: base(integration) + "/api/tenants/\(tenant)/lines/\(line)/callback",
                                           headers: headers(integration, credentials) + [("Content-Type", "application/json")], body: Array(body)),
                               "dialfire callback")
        case .braze, .sms, .email:
            throw JobFailure(.fatal, "\(integration.kind.rawValue) is not a dialer")
        }
    }
}
