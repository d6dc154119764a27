import Foundation
import HTTPTypes
import Hummingbird
import Observability
import Redis
import Postgres
import Routing

/// The routing part of the admin API (ops/openapi/console.yaml): rules versions (show,
/// validate, save, activate, change log), call traces and decision searches, dialer health.
/// Same bearer token as the rest of the console.
struct ConsoleRoutingAPI: Sendable {
    let store: RoutingStore
    let audit: AuditLog
    let token: String

    typealias Failure = JSONFailure

    static func mapped(_ error: Error) -> Error {
        switch error {
        case let e as RoutingError:
            switch e.code {
            case .invalidInput: return Failure(.badRequest, e.message)
            case .unknownDialer, .invalidRules: return Failure(.unprocessableContent, e.message)
            }
        case let e as Failure: return e
        case let e as RedisError: return Failure(.serviceUnavailable, "Redis unavailable: \(e.message)")
        case let e as PostgresError: return Failure(.serviceUnavailable, "database unavailable: \(e)")
        default: return Failure(.internalServerError, "internal error; see the console log")
        }
    }

    func rules(_ request: Request) async throws -> RoutingRules {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        do { return try JSONDecoder().decode(RoutingRules.self, from: Data(buffer: buffer)) } catch {
            throw Failure(.badRequest, "body must be a rules document (see ops/demo/routing-rules.json): \(error)")
        }
    }

    func tenant(_ context: BasicRequestContext) throws -> String {
        guard let tenant = context.parameters.get("tenant") else { throw Failure(.badRequest, "tenant missing") }
        try RoutingStore.checkTenant(tenant)
        return tenant
    }

    func routes(into router: Router<BasicRequestContext>) {
        let api = router.group("v1")
        let handle = ConsoleGuard(token: token, mapped: Self.mapped).handle
        /// Who made a change: the X-Actor header (the console's user), else "console".
        @Sendable func actor(_ request: Request) -> String {
            request.headers[HTTPField.Name("X-Actor")!].map { String($0.prefix(200)) } ?? "console"
        }
        api.post("routing/rules/validate", use: handle { request, _ in
            try await rules(request).validate()
            return JSONFailure.json(.ok, ["valid": true])
        })
        api.get("tenants/:tenant/routing/rules", use: handle { _, context in
            try ConsoleAPI.encoded(.ok, try await store.versions(tenant: try tenant(context)))
        })
        api.get("tenants/:tenant/routing/rules/:version", use: handle { _, context in
            guard let version = context.parameters.get("version", as: Int.self) else { throw Failure(.badRequest, "version must be a number") }
            guard let found = try await store.versions(tenant: try tenant(context), version: version).first else {
                throw Failure(.notFound, "no rules version \(version)")
            }
            return try ConsoleAPI.encoded(.ok, found)
        })
        api.post("tenants/:tenant/routing/rules", use: handle { request, context in
            let tenant = try tenant(context)
            let rules = try await rules(request)
            let note = request.uri.queryParameters["note"].map(String.init)
            let activate = request.uri.queryParameters["activate"].map { $0 == "true" || $0 == "1" } ?? false
            let version = activate ? try await store.publish(rules, tenant: tenant, actor: actor(request), note: note)
                                   : try await store.save(rules, tenant: tenant, actor: actor(request), note: note)
            return JSONFailure.json(.created, ["tenant": tenant, "version": version, "active": activate])
        })
        api.post("tenants/:tenant/routing/rules/:version/activate", use: handle { request, context in
            guard let version = context.parameters.get("version", as: Int.self) else { throw Failure(.badRequest, "version must be a number") }
            let tenant = try tenant(context)
            try await store.activate(tenant: tenant, version: version, actor: actor(request))
            return JSONFailure.json(.ok, ["tenant": tenant, "version": version, "active": true])
        })
        api.get("tenants/:tenant/routing/changes", use: handle { request, context in
            let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 50
            let changes = try await store.changes(tenant: try tenant(context), limit: limit)
            return JSONFailure.json(.ok, changes.map { c -> [String: Any] in
                ["at": c.at, "actor": c.actor, "action": c.action, "version": c.version, "changes": RulesDiff.describe(before: c.before, after: c.after)]
            })
        })
        api.get("tenants/:tenant/routing/calls/:call", use: handle { _, context in
            guard let call = context.parameters.get("call") else { throw Failure(.badRequest, "call id missing") }
            let records = try await audit.trace(tenant: try tenant(context), callId: call)
            guard !records.isEmpty else { throw Failure(.notFound, "no audit records for call \(call)") }
            return try ConsoleAPI.encoded(.ok, records)
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
            return try ConsoleAPI.encoded(.ok, records)
        })
        api.get("tenants/:tenant/routing/health", use: handle { _, context in
            let tenant = try tenant(context)
            let health = try await store.redis.send(["HGETALL", store.keys.health(tenant)]).array?.compactMap(\.string) ?? []
            var dialers: [String: String] = [:]
            for i in stride(from: 0, to: health.count - 1, by: 2) { dialers[health[i]] = health[i + 1] }
            let transitions = try await CircuitBreaker(keys: store.keys).transitions(tenant: tenant, redis: store.redis, limit: 50)
            return JSONFailure.json(.ok, ["dialers": dialers, "transitions": transitions.map {
                ["integration": $0.integration, "from": $0.from, "to": $0.to, "at": $0.at, "reason": $0.reason] as [String: Any]
            }])
        })
    }
}
