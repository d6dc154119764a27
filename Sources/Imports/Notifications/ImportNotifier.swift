import Basics
import Crypto
import Foundation
import Curl
import Queue

/// Delivers import events to customer success (a Slack incoming webhook) and, when the request
/// has one, to its callback URL as JSON signed with HMAC-SHA256.
///
/// Signature: `X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
/// `X-Switchboard-Timestamp: <unix seconds>`; the secret is shown once, when the request is created.
public struct ImportNotifier: Sendable {
    /// Nil: Slack delivery is off (events stay in the database and the CLI).
    public let slackWebhookURL: String?
    public let http: HTTPClient

    public init(slackWebhookURL: String?, http: HTTPClient) {
        self.slackWebhookURL = slackWebhookURL
        self.http = http
    }

    /// The signature header value for `body` sent at `timestamp`.
    public static func signature(secret: String, timestamp: Int, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + Hex.encode(mac)
    }

    /// A fresh callback secret.
    public static func newSecret() -> String {
        Hex.random(bytes: 32)
    }

    func post(_ request: HTTPRequest, what: String) async throws {
        let response: HTTPResponse
        do { response = try await http.send(request) } catch let error as HTTPClientError {
            throw JobFailure(error.isPermanent ? .fatal : .retryable, "\(what): \(error)")
        }
        if let failure = JobFailure(httpStatus: response.status, retryAfterMs: response.retryAfterMs, context: what) {
            // A receiver that says 4xx will not change its mind on retry, except 429.
            throw failure
        }
    }

    /// Posts an event's message to CS's Slack channel (nothing when Slack is off).
    func deliverToSlack(message: String) async throws {
        guard let slackWebhookURL else { return }
        let body = try JSONEncoder.sortedText(["text": message])
        try await post(.json("POST", slackWebhookURL, body: body), what: "slack webhook")
    }

    /// Posts an event to the request's callback URL, signed (nothing when it has none).
    func deliverToCallback(event: Int, kind: String, message: String, at: Double, request: ImportRequest, callbackSecret: String?) async throws {
        if let url = request.callbackURL, let secret = callbackSecret {
            let payload = CallbackEvent(eventId: event, event: kind, message: message, importRequest: request.id, tenant: request.tenant,
                                        platform: request.platform, state: request.state.rawValue, totalCalls: request.totalCalls ?? 0,
                                        doneCalls: request.doneCalls, failedCalls: request.failedCalls,
                                        occurredAt: Int(exactly: at.rounded(.down)) ?? 0)
            let body = try JSONEncoder.sortedText(payload)
            let timestamp = Int(Date().timeIntervalSince1970)
            try await post(.json("POST", url, body: body, headers: [("X-Switchboard-Timestamp", String(timestamp)),
                                                                    ("X-Switchboard-Signature", Self.signature(secret: secret, timestamp: timestamp, body: body))]),
                           what: "callback")
        }
    }
}

/// The body of a signed callback (`X-Switchboard-Signature` is over it), one per request event.
struct CallbackEvent: Encodable {
    let eventId: Int
    let event: String
    let message: String
    let importRequest: Int
    let tenant: String
    let platform: String
    let state: String
    let totalCalls: Int
    let doneCalls: Int
    let failedCalls: Int
    /// Seconds since 1970.
    let occurredAt: Int
}
