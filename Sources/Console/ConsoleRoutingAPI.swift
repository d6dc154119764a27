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
/// Same bearer token as the rest of the console.
struct ConsoleRoutingAPI: Sendable {
    let rules: RuleVersions
    let access: TenantAccess
    let audit: AuditLog
    let token: String

    typealias Failure = JSONFailure

    func rulesDocument(_ request: Request) async throws -> RoutingRules {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        do { return try JSONDecoder().decode(RoutingRules.self, from: Data(buffer: buffer)) } catch {
            throw Failure(.badRequest, "body must be a rules document (see ops/demo/routing-rules.json): \(JSONProblem.describe(error))")
        }
    }

    func tenant(_ context: BasicRequestContext) throws -> String {
        guard let tenant = context.parameters.get("tenant") else { throw Failure(.badRequest, "tenant missing") }
        try TenantID.check(tenant)
        return tenant
    }

    func routes(into router: Router<BasicRequestContext>) {
        let api = router.group("v1")
        let handle = ConsoleGuard(token: token).handle
        /// Who made a change: the X-Actor header (the console's user), else "console".
        @Sendable func actor(_ request: Request) -> String {
            request.headers[HTTPField.Name("X-Actor")!].map { String($0.prefix(200)) } ?? "console"
        }
        api.post("routing/rules/validate", use: handle { request, _ in
            try await rulesDocument(request).validate()
            return JSONFailure.json(.ok, ["valid": true])
        })
        api.get("tenants/:tenant/routing/rules", use: handle { _, context in
            try JSONFailure.encoded(.ok, try await rules.versions(tenant: try tenant(context)))
        })
        api.get("tenants/:tenant/routing/rules/:version", use: handle { _, context in
            guard let version = context.parameters.get("version", as: Int.self) else { throw Failure(.badRequest, "version must be a number") }
            guard let found = try await rules.versions(tenant: try tenant(context), version: version).first else {
                throw Failure(.notFound, "no rules version \(version)")
            }
            return try JSONFailure.encoded(.ok, found)
        })
        api.post("tenants/:tenant/routing/rules", use: handle { request, context in
            let tenant = try tenant(context)
            let document = try await rulesDocument(request)
            let note = request.uri.queryParameters["note"].map(String.init)
            let activate = request.uri.queryParameters["activate"].map { $0 == "true" || $0 == "1" } ?? false
            let version = activate ? try await rules.publish(document, tenant: tenant, actor: actor(request), note: note)
                                   : try await rules.save(document, tenant: tenant, actor: actor(request), note: note)
            return JSONFailure.json(.created, VersionState(tenant: tenant, version: version, active: activate))
        })
        api.post("tenants/:tenant/routing/rules/:version/activate", use: handle { request, context in
            guard let version = context.parameters.get("version", as: Int.self) else { throw Failure(.badRequest, "version must be a number") }
            let tenant = try tenant(context)
            try await rules.activate(tenant: tenant, version: version, actor: actor(request))
            return JSONFailure.json(.ok, VersionState(tenant: tenant, version: version, active: true))
        })
        api.get("tenants/:tenant/routing/changes", use: handle { request, context in
            let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 50
            let changes = try await rules.changes(tenant: try tenant(context), limit: limit)
            return JSONFailure.json(.ok, changes.map { c in
                ChangeEntry(at: c.at, actor: c.actor, action: c.action, version: c.version, changes: RulesDiff.describe(before: c.before, after: c.after))
            })
        })
        api.get("tenants/:tenant/routing/calls/:call", use: handle { _, context in
            guard let call = context.parameters.get("call") else { throw Failure(.badRequest, "call id missing") }
            let records = try await audit.trace(tenant: try tenant(context), callId: call)
            guard !records.isEmpty else { throw Failure(.notFound, "no audit records for call \(call)") }
            return try JSONFailure.encoded(.ok, records)
        })
        api.get("tenants/:tenant/routing/calls", use: handle { request, context in
            let q = request.uri.queryParameters
            let iso = ISO8601DateFormatter()
            func date(_ name: String, _ fallback: Date) throws -> Date {
                guard let text = q[Substring(name)].map(String.init) else { return fallback }
                guard let date = iso.date(from: text) else { throw Failure(.badRequest, "\(name) must be ISO 8601 like 2026-11-22T08:00:00Z") }
                return date
            }
            let to = try date("to", Date()), from = try date("from", to.addingTimeInterval(-86_400))
            guard from < to else { throw Failure(.badRequest, "from must be before to") }
            let caller = try q["caller"].map { try PhoneNumber(parsing: String($0)) }
            let records = try await audit.search(tenant: try tenant(context), from: from, to: to, caller: caller,
                                                 limit: q["limit"].flatMap { Int($0) } ?? 100)
            return try JSONFailure.encoded(.ok, records)
        })
        api.get("tenants/:tenant/routing/health", use: handle { _, context in
            let tenant = try tenant(context)
            let dialers = try await DialerState(keys: access.keys).health(tenant: tenant, redis: access.redis).mapValues(\.rawValue)
            let transitions = try await CircuitBreaker(keys: access.keys).transitions(tenant: tenant, redis: access.redis, limit: 50)
            return JSONFailure.json(.ok, Health(dialers: dialers, transitions: transitions))
        })
    }
}

/// A rules version's state after a save or an activation.
private struct VersionState: Encodable { let tenant: String; let version: Int; let active: Bool }
/// One entry of the rules change log as the console shows it.
private struct ChangeEntry: Encodable { let at: String; let actor: String; let action: String; let version: Int; let changes: [String] }
/// Dialer health and the breakers' recent transitions.
private struct Health: Encodable { let dialers: [String: String]; let transitions: [CircuitBreaker.Transition] }
