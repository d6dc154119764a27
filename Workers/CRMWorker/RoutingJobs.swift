import Foundation
import Curl
import Queue
import Routing
import RoutingCore
import VendorClients
import Vault

/// The handlers of the `routing` queue (`SMSAlertJob`, `CallbackJob`, `AccessSyncJob`), worked by
/// the crm-worker. Retries with backoff; 429 pauses the key; bad credentials dead-letter at once.
struct RoutingJobs: Sendable {
    let access: TenantAccess
    let credentials: RouterCredentials
    let vault: CredentialVault
    let http: HTTPClient

    init(access: TenantAccess, credentials: RouterCredentials, vault: CredentialVault, http: HTTPClient) {
        self.access = access
        self.credentials = credentials
        self.vault = vault
        self.http = http
    }

    func integration(_ tenant: String, _ id: String) async throws -> RoutingIntegration {
        guard let found = try await access.integrations(tenant: tenant).first(where: { $0.id == id }) else {
            throw JobFailure(.fatal, "tenant \(tenant) has no integration '\(id)' (switchboard routing integration set)")
        }
        return found
    }

    /// The job definitions.
    var definitions: [JobDefinition] {
        [
            JobDefinition(type: SMSAlertJob.type, backoff: Backoff(baseMs: 500, capMs: 30_000)) { context in
                let alert = try JobFailure.decode(SMSAlertJob.self, from: context.job.payload)
                let sms = try await integration(alert.tenant, "sms")
                let token = try await access.credentials(of: sms, vault: vault)
                try await SMSClient(http: http).send(alert.message, integration: sms, authToken: token)
            },
            JobDefinition(type: CallbackJob.type, backoff: Backoff(baseMs: 1000, capMs: 60_000)) { context in
                let callback = try JobFailure.decode(CallbackJob.self, from: context.job.payload)
                let dialer = try await integration(callback.tenant, callback.dialer)
                let credentials = try await access.credentials(of: dialer, vault: vault)
                try await DialerClient(http: http).fileCallback(dialer, credentials: credentials, phone: callback.phone)
            },
            JobDefinition(type: AccessSyncJob.type, backoff: Backoff(baseMs: 1000, capMs: 30_000)) { context in
                _ = try JobFailure.decode(AccessSyncJob.self, from: context.job.payload)
                _ = try await self.credentials.sync(vault: vault, access: access)
            },
        ]
    }
}
