import Access
import Basics
import Foundation
import HTTPTypes
import Hummingbird
import Imports
import Logging
import Observability
import Postgres
import Redis
import RoutingCore
import Vault

/// Where a route finds the tenant whose data it touches.
enum TenantSource: Sendable {
    /// Not about one tenant (matrix, quotes, the caller's own session).
    case none
    /// The `:tenant` path parameter.
    case path
    /// The `tenant` query parameter; when absent, the caller's own tenant (operators: every tenant).
    case queryOrOwn
    /// The `tenant` field of the JSON body.
    case body
    /// The tenant of the import request named by `:id`.
    case importRequest
}

/// One authenticated, authorised call as a route's handler sees it.
struct ConsoleCall: Sendable {
    let request: Request
    let context: BasicRequestContext
    let principal: Principal
    /// The tenant the call was authorised for (nil: none, or every tenant for an operator).
    let tenant: String?
    /// The request body, already read (at most 1 MiB; empty for GET).
    let body: ByteBuffer

    /// The body as a `Decodable` value; 400 with the decoder's complaint in plain words.
    func decode<T: Decodable>(_ type: T.Type, _ what: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(buffer: body)) } catch {
            throw JSONFailure(.badRequest, "body must be \(what): \(JSONProblem.describe(error))")
        }
    }

    /// The body as one JSON object.
    func object() throws -> [String: JSONValue] {
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(buffer: body)) else {
            throw JSONFailure(.badRequest, "body must be a JSON object")
        }
        return object
    }

    /// The `:tenant` the call was authorised for.
    func requiredTenant() throws -> String {
        guard let tenant else { throw JSONFailure(.badRequest, "tenant is required") }
        return tenant
    }
}

/// The one gate every console route passes: authentication (a per-user API token, or a
/// sign-in session cookie with its CSRF token on changing requests), authorisation by
/// `AccessPolicy` for the route's declared action and tenant, the audit record of every change
/// and every refusal, and the mapping of domain errors to HTTP answers (never SQL, driver or
/// decoder internals: those go to the log).
struct ConsoleGuard: Sendable {
    let users: UserStore
    let tokens: APITokens
    let sessions: SessionStore
    let actions: UserActionLog
    /// The tenant of an import request (for `TenantSource.importRequest`).
    let tenantOfImport: @Sendable (Int) async throws -> String
    static let logger = Logger(label: "switchboard.console")

    /// The CSRF header a session's changing requests carry.
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// Registers `work` at `method path`, behind the gate. `audit` names the action in the user
    /// action log; routes that change something must give one.
    func route(_ router: RouterGroup<BasicRequestContext>, _ method: HTTPRequest.Method, _ path: String, _ action: AccessAction,
               tenant source: TenantSource, audit: String? = nil, _ work: @escaping @Sendable (ConsoleCall) async throws -> Response) {
        precondition(method == .get || method == .head || action.readsOnly || audit != nil, "\(method) \(path) changes something and must name its audit action")
        router.on(RouterPath(path), method: method) { request, context in
            var principal: Principal?
            var tenant: String?
            do {
                // Who is asking first: an anonymous caller never gets us to read a body.
                let who = try await authenticate(request)
                principal = who
                let body = method == .get || method == .head ? ByteBuffer() : try await Self.collect(request)
                tenant = try await resolve(source, request: request, context: context, body: body, principal: who)
                if case .denied(let reason) = AccessPolicy.decide(who, action, tenant: tenant) {
                    throw AccessError(.forbidden, reason)
                }
                let response = try await work(ConsoleCall(request: request, context: context, principal: who, tenant: tenant, body: body))
                // Recorded in the chain of the tenant acted on, else of the caller's own tenant.
                if let audit { await record(who, audit, tenant: tenant ?? who.tenant, request: request, outcome: .ok, status: response.status.code) }
                return response
            } catch {
                let mapped = Self.mapped(error, request.uri.path)
                let status = (mapped as? any HTTPResponseError)?.status.code ?? 500
                if let principal, audit != nil || status == 403 {
                    await record(principal, audit ?? "\(action.rawValue).attempt", tenant: tenant ?? principal.tenant, request: request,
                                 outcome: status == 403 ? .denied : .failed, status: status, error: (mapped as? JSONFailure)?.message)
                }
                throw mapped
            }
        }
    }

    /// Registers a route that needs no sign-in (the sign-in itself); it audits on its own.
    func open(_ router: RouterGroup<BasicRequestContext>, _ method: HTTPRequest.Method, _ path: String,
              _ work: @escaping @Sendable (Request, ByteBuffer) async throws -> Response) {
        router.on(RouterPath(path), method: method) { request, _ in
            do { return try await work(request, try await Self.collect(request)) } catch { throw Self.mapped(error, request.uri.path) }
        }
    }

    static func collect(_ request: Request) async throws -> ByteBuffer {
        do { return try await request.body.collect(upTo: 1 << 20) } catch { throw JSONFailure(.contentTooLarge, "body must be at most 1 MiB") }
    }

    /// Who is calling: a bearer API token, else a session cookie (with its CSRF token when
    /// the request changes something); 401 otherwise.
    func authenticate(_ request: Request) async throws -> Principal {
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer ") else { throw AccessError(.unauthenticated, "Authorization must be 'Bearer <API token>'") }
            return try await tokens.authenticate(String(header.dropFirst(7)))
        }
        guard let cookie = request.cookies[SessionStore.cookieName]?.value,
              let session = try await sessions.resume(cookie),
              let user = try await users.active(id: session.userId) else {
            throw AccessError(.unauthenticated, "sign in (POST /v1/session) or send 'Authorization: Bearer <API token>'")
        }
        if request.method != .get && request.method != .head {
            let sent = request.headers[Self.csrfHeader] ?? ""
            guard !sent.isEmpty, Hex.constantTimeEqual(sent, session.csrfToken) else { throw AccessError(.forbidden, "missing or wrong X-CSRF-Token for this session") }
        }
        return user.principal(via: .session)
    }

    private func resolve(_ source: TenantSource, request: Request, context: BasicRequestContext, body: ByteBuffer,
                         principal: Principal) async throws -> String? {
        func checked(_ tenant: String) throws -> String {
            if let problem = TenantID.problem(tenant) { throw JSONFailure(.badRequest, problem) }
            return tenant
        }
        switch source {
        case .none: return nil
        case .path:
            guard let tenant = context.parameters.get("tenant") else { throw JSONFailure(.badRequest, "tenant missing") }
            return try checked(tenant)
        case .queryOrOwn:
            if let tenant = request.uri.queryParameters["tenant"] { return try checked(String(tenant)) }
            return principal.tenant
        case .body:
            struct Tenanted: Decodable { let tenant: String }
            guard let found = try? JSONDecoder().decode(Tenanted.self, from: Data(buffer: body)) else {
                throw JSONFailure(.badRequest, "body must be a JSON object with a 'tenant'")
            }
            return try checked(found.tenant)
        case .importRequest:
            guard let id = context.parameters.get("id", as: Int.self), id > 0, id <= Int(Int32.max) else {
                throw JSONFailure(.badRequest, "import request id must be a positive number")
            }
            return try await tenantOfImport(id)
        }
    }

    /// Writes one user action; a failure to write is logged, never hides the answer.
    func record(_ principal: Principal?, _ action: String, tenant: String?, request: Request, outcome: UserActionLog.Outcome,
                status: Int, error: String? = nil, detail: [String: String] = [:]) async {
        var detail = detail
        detail["method"] = request.method.rawValue
        detail["status"] = String(status)
        if let error { detail["error"] = error }
        do {
            try await actions.record(principal, action, tenant: tenant, target: request.uri.path, outcome: outcome, detail: detail, source: "console")
        } catch {
            Self.logger.error("user action not recorded", metadata: ["action": "\(action)", "error": "\(error)"])
        }
    }


    /// Domain errors as HTTP: input errors 4xx with their message; store failures 503 and other
    /// surprises 500, with a generic message (the details are logged).
    static func mapped(_ error: any Error, _ path: String) -> any Error {
        switch error {
        case let e as JSONFailure: return e
        case let e as TooManyAttempts: return e
        case let e as HTTPError where e.status.code < 500: return e
        case let e as AccessError:
            switch e.code {
            case .unauthenticated: return JSONFailure(.unauthorized, e.message)
            case .forbidden: return JSONFailure(.forbidden, e.message)
            case .invalidInput: return JSONFailure(.badRequest, e.message)
            case .notFound: return JSONFailure(.notFound, e.message)
            case .conflict: return JSONFailure(.conflict, e.message)
            case .locked: return TooManyAttempts(message: e.message, retryAfter: e.retryAfterSeconds ?? 60)
            }
        case let e as ImportError:
            switch e.code {
            case .invalidInput, .unknownPlatform, .invalidCredentials: return JSONFailure(.badRequest, e.message)
            case .notFound: return JSONFailure(.notFound, e.message)
            case .conflict: return JSONFailure(.conflict, e.message)
            }
        case let e as RoutingError:
            switch e.code {
            case .invalidInput: return JSONFailure(.badRequest, e.message)
            case .unknownDialer, .invalidRules: return JSONFailure(.unprocessableContent, e.message)
            }
        case let e as VaultError:
            // A missing or wrong master key is configuration, not the caller's fault; never the secret.
            logger.error("vault failed", metadata: ["path": "\(path)", "error": "\(e)"])
            return JSONFailure(.serviceUnavailable, "encryption keys unavailable; see the console log")
        case let e as RedisError:
            logger.error("redis failed", metadata: ["path": "\(path)", "error": "\(e)"])
            return JSONFailure(.serviceUnavailable, "Redis unavailable; try again")
        case let e as PostgresError:
            logger.error("postgres failed", metadata: ["path": "\(path)", "error": "\(e)"])
            if e.code != .connection, let state = e.sqlState, state.hasPrefix("22") {
                return JSONFailure(.badRequest, "a value in the request is out of range or malformed")
            }
            return JSONFailure(.serviceUnavailable, "database unavailable; try again")
        default:
            logger.error("request failed", metadata: ["path": "\(path)", "error": "\(error)"])
            return JSONFailure(.internalServerError, "internal error; see the console log")
        }
    }
}

/// 429 with `Retry-After`: a locked account.
struct TooManyAttempts: HTTPResponseError {
    let message: String
    let retryAfter: Int
    var status: HTTPResponse.Status { .tooManyRequests }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONFailure.json(.tooManyRequests, ["error": message])
        response.headers[.retryAfter] = String(retryAfter)
        return response
    }
}
