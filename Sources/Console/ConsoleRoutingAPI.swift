import Access
import Basics
import Foundation
import HTTPTypes
import Hummingbird
import Observability
import Redis
import Postgres
import Routing
import RoutingCore

/// The routing part of the admin API (ops/openapi/console.yaml): rules versions (show,
/// validate, save, activate, change log), call traces and decision searches, dialer health.
/// Every route passes `ConsoleGuard`; changes carry the authenticated user as their actor.
struct ConsoleRoutingAPI: Sendable {
    let rules: RuleVersions
    let access: TenantAccess
    let audit: AuditLog
    let gate: ConsoleGuard

    typealias Failure = JSONFailure

    func rulesDocument(_ call: ConsoleCall) throws -> RoutingRules {
        do { return try JSONDecoder().decode(RoutingRules.self, from: Data(buffer: call.body)) } catch {
            throw Failure(.badRequest, "body must be a rules document (see ops/demo/routing-rules.json): \(JSONProblem.describe(error))")
        }
    }

    func routes(into router: Router<BasicRequestContext>) {
        let api = router.group("v1")
        gate.route(api, .post, "routing/rules/validate", .tools, tenant: .none) { call in
            try rulesDocument(call).validate()
            return JSONFailure.json(.ok, ["valid": true])
        }
        gate.route(api, .get, "tenants/:tenant/routing/rules", .rulesRead, tenant: .path) { call in
            try JSONFailure.encoded(.ok, try await rules.versions(tenant: try call.requiredTenant()))
        }
        gate.route(api, .get, "tenants/:tenant/routing/rules/:version", .rulesRead, tenant: .path) { call in
            guard let version = call.context.parameters.get("version", as: Int.self) else { throw Failure(.badRequest, "version must be a number") }
            guard let found = try await rules.versions(tenant: try call.requiredTenant(), version: version).first else {
                throw Failure(.notFound, "no rules version \(version)")
            }
            return try JSONFailure.encoded(.ok, found)
        }
        gate.route(api, .post, "tenants/:tenant/routing/rules", .rulesChange, tenant: .path, audit: "rules.save") { call in
            let tenant = try call.requiredTenant()
            let document = try rulesDocument(call)
            let q = call.request.uri.queryParameters
            let note = q["note"].map(String.init)
            let activate = q["activate"].map { $0 == "true" || $0 == "1" } ?? false
            let version = activate ? try await rules.publish(document, tenant: tenant, actor: call.principal.name, note: note)
                                   : try await rules.save(document, tenant: tenant, actor: call.principal.name, note: note)
            return JSONFailure.json(.created, VersionState(tenant: tenant, version: version, active: activate))
        }
        gate.route(api, .post, "tenants/:tenant/routing/rules/:version/activate", .rulesChange, tenant: .path, audit: "rules.activate") { call in
            guard let version = call.context.parameters.get("version", as: Int.self) else { throw Failure(.badRequest, "version must be a number") }
            let tenant = try call.requiredTenant()
            try await rules.activate(tenant: tenant, version: version, actor: call.principal.name)
            return JSONFailure.json(.ok, VersionState(tenant: tenant, version: version, active: true))
        }
        gate.route(api, .get, "tenants/:tenant/routing/changes", .rulesRead, tenant: .path) { call in
            let limit = call.request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 50
            let changes = try await rules.changes(tenant: try call.requiredTenant(), limit: limit)
            return JSONFailure.json(.ok, changes.map { c in
                ChangeEntry(at: c.at, actor: c.actor, action: c.action, version: c.version, changes: RulesDiff.describe(before: c.before, after: c.after))
            })
        }
        gate.route(api, .get, "tenants/:tenant/routing/calls/:call", .auditRead, tenant: .path) { call in
            guard let callId = call.context.parameters.get("call") else { throw Failure(.badRequest, "call id missing") }
            let records = try await audit.trace(tenant: try call.requiredTenant(), callId: callId)
            guard !records.isEmpty else { throw Failure(.notFound, "no audit records for call \(callId)") }
            return try JSONFailure.encoded(.ok, records)
        }
        gate.route(api, .get, "tenants/:tenant/routing/calls", .auditRead, tenant: .path) { call in
            let q = call.request.uri.queryParameters
            let iso = ISO8601DateFormatter()
            func date(_ name: String, _ fallback: Date) throws -> Date {
                guard let text = q[Substring(name)].map(String.init) else { return fallback }
                guard let date = iso.date(from: text) else { throw Failure(.badRequest, "\(name) must be ISO 8601 like 2026-11-22T08:00:00Z") }
                return date
            }
            let to = try date("to", Date()), from = try date("from", to.addingTimeInterval(-86_400))
            guard from < to else { throw Failure(.badRequest, "from must be before to") }
            let caller = try q["caller"].map { try PhoneNumber(parsing: String($0)) }
            let records = try await audit.search(tenant: try call.requiredTenant(), from: from, to: to, caller: caller,
                                                 limit: q["limit"].flatMap { Int($0) } ?? 100)
            return try JSONFailure.encoded(.ok, records)
        }
        gate.route(api, .get, "tenants/:tenant/routing/health", .routingRead, tenant: .path) { call in
            let tenant = try call.requiredTenant()
            let dialers = try await DialerState(keys: access.keys).health(tenant: tenant, redis: access.redis).mapValues(\.rawValue)
            let transitions = try await CircuitBreaker(keys: access.keys).transitions(tenant: tenant, redis: access.redis, limit: 50)
            return JSONFailure.json(.ok, Health(dialers: dialers, transitions: transitions))
        }
    }
}

/// A rules version's state after a save or an activation.
private struct VersionState: Encodable { let tenant: String; let version: Int; let active: Bool }
/// One entry of the rules change log as the console shows it.
private struct ChangeEntry: Encodable { let at: String; let actor: String; let action: String; let version: Int; let changes: [String] }
/// Dialer health and the breakers' recent transitions.
private struct Health: Encodable { let dialers: [String: String]; let transitions: [CircuitBreaker.Transition] }
