import Basics
import Curl
import Foundation
import Queue
import RoutingCore

/// Texts through a Twilio-compatible Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
/// Basic `{accountSid}:{auth token}`, form body `To`, `From`, `Body`): a tenant's `sms`
/// integration with settings `accountSid`, `from`, `to`. HTTP failures come back as
/// `JobFailure`s (429 → rate limited with Retry-After, 5xx → retryable, 401/403 → fatal).
public struct SMSClient: Sendable {
    public let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    /// Sends `message` to the integration's on-call number.
    public func send(_ message: String, integration: RoutingIntegration, authToken: String) async throws {
        let sid = integration.settings["accountSid"] ?? ""
        let body = TwilioSignature.formBody([("To", integration.settings["to"] ?? ""), ("From", integration.settings["from"] ?? ""), ("Body", message)])
        let response = try await http.send(HTTPRequest(
            method: "POST", url: BaseURL.trimmed(integration.baseURL) + "/2010-04-01/Accounts/\(sid)/Messages.json",
            headers: [("Authorization", "Basic " + Data("\(sid):\(authToken)".utf8).base64EncodedString()),
                      ("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(body.utf8), timeoutMs: 5000))
        if let failure = JobFailure(httpStatus: response.status, retryAfterMs: response.retryAfterMs, context: "sms alert") { throw failure }
    }
}
