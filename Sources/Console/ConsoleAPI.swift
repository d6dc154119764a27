import Access
import Basics
import Foundation
import Hummingbird
import Imports
import Logging
import Observability
import Postgres
import Queue
import Redis

/// The import part of the console's admin API (ops/openapi/console.yaml): the matrix, quotes
/// and import requests, for customer success tools. Every route passes `ConsoleGuard`.
struct ConsoleAPI: Sendable {
    let pipeline: ImportPipeline
    let gate: ConsoleGuard

    typealias Failure = JSONFailure

    func id(_ call: ConsoleCall) throws -> Int {
        guard let id = call.context.parameters.get("id", as: Int.self), id > 0 else { throw Failure(.badRequest, "import request id must be a positive number") }
        return id
    }

    /// The routes.
    func routes(into router: Router<BasicRequestContext>) {
        let api = router.group("v1")
        gate.route(api, .get, "platforms", .tools, tenant: .none) { _ in try JSONFailure.encoded(.ok, pipeline.catalog.platforms) }
        gate.route(api, .get, "quote", .tools, tenant: .none) { call in
            let q = call.request.uri.queryParameters
            guard let platform = q["platform"].map(String.init), let calls = q["calls"].flatMap({ Int($0) }) else {
                throw Failure(.badRequest, "platform and calls are required (e.g. ?platform=gong&calls=5000)")
            }
            let urgent = q["urgent"].map { $0 == "true" || $0 == "1" } ?? false
            let window = try q["nightWindow"].map { try NightWindow(parsing: String($0)) } ?? pipeline.nightWindow
            let found = try pipeline.catalog.platform(platform)
            var learned: LearnedRate?
            if let tenant = q["tenant"].map(String.init) {
                if let problem = TenantID.problem(tenant) { throw Failure(.badRequest, "tenant: \(problem)") }
                learned = try await pipeline.queue.learnedRate(key: "\(found.id):\(tenant)")
            }
            let quote = try ImportQuote(platform: found, calls: calls, nightWindow: urgent ? nil : window, learned: learned)
            let answer: [String: JSONValue] = [
                "platform": .string(quote.platform.id), "status": .string(quote.platform.status.rawValue), "calls": .int(calls),
                "requests": .int(quote.requests), "apiTimeSeconds": .double(Double(quote.apiTimeMs) / 1000), "nights": .int(quote.nights ?? 0),
                "price": quote.price.map(JSONValue.double) ?? .null, "currency": quote.platform.price.map { .string($0.currency) } ?? .null,
                "summary": .string(quote.summary), "learnedPerSecond": learned.map { .double($0.perSecond) } ?? .null]
            return JSONFailure.json(.ok, answer)
        }
        gate.route(api, .post, "imports", .importsChange, tenant: .body, audit: "import.create") { call in
            let b = try call.object()
            func text(_ k: String) throws -> String {
                guard let v = b[k]?.string, !v.isEmpty else { throw Failure(.badRequest, "'\(k)' is required and must be text") }
                return v
            }
            guard let credentials = b["credentials"], credentials.object != nil, let credentialData = try? JSONEncoder().encode(credentials) else {
                throw Failure(.badRequest, "'credentials' is required and must be an object")
            }
            guard let urgency = Urgency(rawValue: b["urgency"]?.string ?? "standard") else {
                throw Failure(.badRequest, "'urgency' must be one of \(Urgency.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let new = NewImportRequest(tenant: try call.requiredTenant(), tenantName: b["tenantName"]?.string, platform: try text("platform"),
                                       credentials: String(decoding: credentialData, as: UTF8.self), fromDate: try text("from"), toDate: try text("to"),
                                       estimatedCalls: b["estimatedCalls"]?.int ?? 0, urgency: urgency,
                                       requestedCompletion: b["requestedCompletion"]?.string, callbackURL: b["callbackUrl"]?.string,
                                       createdBy: call.principal.name)
            let submitted = try await pipeline.submit(new)
            struct Created: Encodable { let request: ImportRequest; let callbackSecret: String? }
            return try JSONFailure.encoded(.created, Created(request: submitted.request, callbackSecret: submitted.callbackSecret))
        }
        gate.route(api, .get, "imports", .importsRead, tenant: .queryOrOwn) { call in
            let limit = call.request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 50
            guard (1...1000).contains(limit) else { throw Failure(.badRequest, "limit must be 1-1000") }
            return try JSONFailure.encoded(.ok, try await pipeline.store.list(tenant: call.tenant, limit: limit))
        }
        gate.route(api, .get, "imports/:id", .importsRead, tenant: .importRequest) { call in
            let id = try id(call)
            struct Detail: Encodable {
                let request: ImportRequest
                let failures: [[String: String]]
                let events: [[String: String]]
            }
            return try JSONFailure.encoded(.ok, Detail(request: try await pipeline.store.request(id),
                                                failures: try await pipeline.store.failures(id).map { ["callId": $0.externalId, "error": $0.error] },
                                                events: try await pipeline.store.events(id).map { ["kind": $0.kind, "message": $0.message] }))
        }
        gate.route(api, .post, "imports/:id/cancel", .importsChange, tenant: .importRequest, audit: "import.cancel") { call in
            try JSONFailure.encoded(.ok, try await pipeline.store.cancel(try id(call)))
        }
        gate.route(api, .post, "imports/:id/resume", .importsChange, tenant: .importRequest, audit: "import.resume") { call in
            try JSONFailure.encoded(.ok, try await pipeline.resume(try id(call)))
        }
        gate.route(api, .post, "imports/:id/retry-failed", .importsChange, tenant: .importRequest, audit: "import.retry-failed") { call in
            JSONFailure.json(.ok, ["retrying": try await pipeline.retryFailed(try id(call))])
        }
        gate.route(api, .get, "tenants/:tenant/calls", .importsRead, tenant: .path) { call in
            let limit = call.request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 50
            return try JSONFailure.encoded(.ok, try await pipeline.store.importedCalls(tenant: try call.requiredTenant(), limit: limit))
        }
    }
}
