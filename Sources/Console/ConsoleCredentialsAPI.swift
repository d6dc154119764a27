import Access
import Basics
import Foundation
import Hummingbird
import Observability
import Routing
import Vault

/// The router's credentials in the admin API (ops/openapi/console.yaml): a tenant's dialer API
/// keys (create, list, rotate with an overlap, revoke) and voice-platform tokens (set or
/// generate, list, revoke). A key or token is shown once, when made; lists never show them.
struct ConsoleCredentialsAPI: Sendable {
    let credentials: RouterCredentials
    let vault: CredentialVault
    let gate: ConsoleGuard

    /// The body of `POST …/api-keys`.
    struct NewKey: Decodable {
        let label: String?
        let expiresInDays: Int?
    }

    /// The body of `POST …/api-keys/{key}/rotate` and `POST …/voice-tokens`.
    struct Overlap: Decodable {
        let overlapMinutes: Int?
        let token: String?
    }

    /// A key or token just made: the only answer that carries the secret.
    struct Made: Encodable {
        let credential: RouterCredentials.Info
        let secret: String?
    }

    static func overlapSeconds(_ minutes: Int?, default value: Int) throws -> Int {
        let minutes = minutes ?? value
        guard (0...43_200).contains(minutes) else { throw JSONFailure(.badRequest, "overlapMinutes must be 0 to 43200 (30 days)") }
        return minutes * 60
    }

    func routes(into router: Router<BasicRequestContext>) {
        let api = router.group("v1")
        gate.route(api, .get, "tenants/:tenant/routing/api-keys", .integrationsRead, tenant: .path) { call in
            try JSONFailure.encoded(.ok, try await credentials.apiKeys(tenant: try call.requiredTenant()))
        }
        gate.route(api, .post, "tenants/:tenant/routing/api-keys", .integrationsChange, tenant: .path, audit: "api-key.create") { call in
            let body = call.body.readableBytes == 0 ? NewKey(label: nil, expiresInDays: nil) : try call.decode(NewKey.self, "{\"label\": …, \"expiresInDays\": …}")
            if let days = body.expiresInDays, !(1...3650).contains(days) { throw JSONFailure(.badRequest, "expiresInDays must be 1 to 3650") }
            let made = try await credentials.createAPIKey(tenant: try call.requiredTenant(), label: body.label ?? "", createdBy: call.principal.name,
                                                          expiresAt: body.expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) })
            return try JSONFailure.encoded(.created, Made(credential: made.info, secret: made.key))
        }
        gate.route(api, .post, "tenants/:tenant/routing/api-keys/:key/rotate", .integrationsChange, tenant: .path, audit: "api-key.rotate") { call in
            let body = call.body.readableBytes == 0 ? Overlap(overlapMinutes: nil, token: nil) : try call.decode(Overlap.self, "{\"overlapMinutes\": …}")
            let id = call.context.parameters.get("key") ?? ""
            guard let made = try await credentials.rotateAPIKey(tenant: try call.requiredTenant(), id: id,
                                                                overlapSeconds: try Self.overlapSeconds(body.overlapMinutes, default: 60), by: call.principal.name) else {
                throw JSONFailure(.notFound, "no active API key \(String(id.prefix(40)))")
            }
            return try JSONFailure.encoded(.created, Made(credential: made.info, secret: made.key))
        }
        gate.route(api, .delete, "tenants/:tenant/routing/api-keys/:key", .integrationsChange, tenant: .path, audit: "api-key.revoke") { call in
            let id = call.context.parameters.get("key") ?? ""
            guard let info = try await credentials.revokeAPIKey(tenant: try call.requiredTenant(), id: id, by: call.principal.name) else {
                throw JSONFailure(.notFound, "no API key \(String(id.prefix(40)))")
            }
            return try JSONFailure.encoded(.ok, info)
        }
        gate.route(api, .get, "tenants/:tenant/routing/voice-tokens", .integrationsRead, tenant: .path) { call in
            try JSONFailure.encoded(.ok, try await credentials.voiceTokens(tenant: try call.requiredTenant()))
        }
        gate.route(api, .post, "tenants/:tenant/routing/voice-tokens", .integrationsChange, tenant: .path, audit: "voice-token.set") { call in
            let body = call.body.readableBytes == 0 ? Overlap(overlapMinutes: nil, token: nil) : try call.decode(Overlap.self, "{\"token\": …, \"overlapMinutes\": …}")
            let token = body.token ?? Hex.random(bytes: 20)
            let made = try await credentials.setVoiceToken(tenant: try call.requiredTenant(), token: token,
                                                           overlapSeconds: try Self.overlapSeconds(body.overlapMinutes, default: 0), by: call.principal.name, vault: vault)
            // A token the caller chose is not echoed back.
            return try JSONFailure.encoded(.created, Made(credential: made.token, secret: body.token == nil ? token : nil))
        }
        gate.route(api, .delete, "tenants/:tenant/routing/voice-tokens/:token", .integrationsChange, tenant: .path, audit: "voice-token.revoke") { call in
            let id = call.context.parameters.get("token") ?? ""
            guard let info = try await credentials.revokeVoiceToken(tenant: try call.requiredTenant(), id: id, by: call.principal.name, vault: vault) else {
                throw JSONFailure(.notFound, "no voice token \(String(id.prefix(40)))")
            }
            return try JSONFailure.encoded(.ok, info)
        }
    }
}
