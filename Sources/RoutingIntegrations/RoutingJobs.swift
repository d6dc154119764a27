import Foundation
import HTTPClient
import Queue
import Routing
import Vault

/// The jobs of the `routing` queue, worked by the crm-worker:
/// - `routing.sms-alert` `{"tenant", "callId", "message"}`: texts the tenant's on-call number
///   through its SMS integration (both dialers failed, scenario 2).
/// - `routing.callback` `{"tenant", "dialer", "phone", "callId"}`: files a callback request
///   with the dialer (a caller pressed 1 at the apology menu).
/// Retries with backoff; 429 pauses the key; bad credentials dead-letter at once.
public struct RoutingJobs: Sendable {
    public let store: RoutingStore
    public let vault: CredentialVault
    public let http: HTTPClient

    public init(store: RoutingStore, vault: CredentialVault, http: HTTPClient) {
        self.store = store
        self.vault = vault
        self.http = http
    }

    struct Alert: Decodable { let tenant: String; let callId: String; let message: String }
    struct Callback: Decodable { let tenant: String; let dialer: String; let phone: String; let callId: String }

    func integration(_ tenant: String, _ id: String) async throws -> RoutingIntegration {
        guard let found = try await store.integrations(tenant: tenant).first(where: { $0.id == id }) else {
            throw JobFailure(.fatal, "tenant \(tenant) has no integration '\(id)' (switchboard routing integration set)")
        }
        return found
    }

    /// The job definitions.
    public var definitions: [JobDefinition] {
        [
            JobDefinition(type: "routing.sms-alert", backoff: Backoff(baseMs: 500, capMs: 30_000)) { context in
                let alert = try JobFailure.decode(Alert.self, from: context.job.payload)
                let sms = try await integration(alert.tenant, "sms")
                let token = try await store.credentials(of: sms, vault: vault)
                let sid = sms.settings["accountSid"] ?? ""
                let base = sms.baseURL.hasSuffix("/") ? String(sms.baseURL.dropLast()) : sms.baseURL
                let body = TwilioSignature.formBody([("To", sms.settings["to"] ?? ""), ("From", sms.settings["from"] ?? ""), ("Body", alert.message)])
                let response = try await http.send(HTTPRequest(
                    method: "POST", url: base + "/2010-04-01/Accounts/\(sid)/Messages.json",
                    headers: [("Authorization", "Basic " + Data("\(sid):\(token)".utf8).base64EncodedString()),
                              ("Content-Type", "application/x-www-form-urlencoded")],
                    body: Array(body.utf8), timeoutMs: 5000))
                if let failure = JobFailure(httpStatus: response.status, retryAfterMs: response.retryAfterMs, context: "sms alert") { throw failure }
            },
            JobDefinition(type: "routing.callback", backoff: Backoff(baseMs: 1000, capMs: 60_000)) { context in
                let callback = try JobFailure.decode(Callback.self, from: context.job.payload)
                let dialer = try await integration(callback.tenant, callback.dialer)
                let credentials = try await store.credentials(of: dialer, vault: vault)
                try await DialerClient(http: http).fileCallback(dialer, credentials: credentials, phone: callback.phone)
            },
        ]
    }
}
