import Foundation
import Hummingbird
import Observability
import Routing
import RoutingCore

/// `POST /webhooks/braze/{tenant}`: what an attribute-trigger webhook campaign in Braze sends
/// when a lead's routing fields change (`{"external_id": …, "phone": "+1…"}`, the integration's
/// `webhookToken` as bearer). The phone is queued for a `crm.lookup`, so the cache follows
/// within the workspace's rate limit.
struct BrazeWebhook: Sendable {
    let cache: LeadCache

    func routes(into router: Router<BasicRequestContext>) {
        router.post("/webhooks/braze/:tenant") { request, context -> Response in
            guard let tenant = context.parameters.get("tenant") else { throw JSONFailure(.badRequest, "tenant missing") }
            let secrets: BrazeAccess.Credentials
            do { secrets = try await cache.braze(tenant).2 } catch { throw JSONFailure(.notFound, "tenant \(tenant) has no Braze integration") }
            guard let token = secrets.webhookToken, request.headers[.authorization] == "Bearer \(token)" else {
                throw JSONFailure(.unauthorized, "missing or wrong bearer token")
            }
            let body = try await request.body.collect(upTo: 64 * 1024)
            struct Change: Decodable { let phone: String? }
            guard let change = try? JSONDecoder().decode(Change.self, from: Data(buffer: body)) else {
                throw JSONFailure(.badRequest, #"body must be JSON like {"external_id": "u1", "phone": "+15551230001"}"#)
            }
            guard let raw = change.phone else { throw JSONFailure(.badRequest, "phone is required (the cache is keyed by phone)") }
            let phone: PhoneNumber
            do { phone = try PhoneNumber(parsing: raw) } catch let error as RoutingError { throw JSONFailure(.badRequest, error.message) }
            try await cache.enqueueLookup(tenant: tenant, phone: phone)
            return JSONFailure.json(.accepted, ["queued": phone.e164])
        }
    }
}
