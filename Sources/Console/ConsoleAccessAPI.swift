import Access
import Basics
import Foundation
import HTTPTypes
import Hummingbird
import Observability

/// The people part of the console's API (ops/openapi/console.yaml): sign-in sessions, the
/// caller's password and API tokens, a tenant's users, and the search of the user action log.
struct ConsoleAccessAPI: Sendable {
    let gate: ConsoleGuard
    /// Whether the session cookie carries `Secure` (always, except when explicitly turned off
    /// for a plain-HTTP development setup: SB_CONSOLE_INSECURE_COOKIES=1).
    let secureCookies: Bool

    typealias Failure = JSONFailure

    private struct SignIn: Decodable { let username: String; let password: String }
    private struct PasswordChange: Decodable { let current: String; let new: String }
    private struct NewUser: Decodable { let username: String; let role: String; let password: String? }
    private struct RoleChange: Decodable { let role: String }
    private struct NewToken: Decodable { let name: String; let role: String?; let days: Int? }
    /// Who is signed in, and the CSRF token changing requests of the session must carry.
    private struct SessionState: Encodable { let user: String; let role: String; let tenant: String?; let via: String; let csrfToken: String? }

    private func cookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: SessionStore.cookieName, value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    /// A user of the call's tenant named by `:user` (id or username); 404 for another tenant's.
    private func tenantUser(_ call: ConsoleCall) async throws -> User {
        guard let name = call.context.parameters.get("user") else { throw Failure(.badRequest, "user missing") }
        let user = try await gate.users.find(name)
        guard user.tenant == call.tenant, !user.removed else { throw Failure(.notFound, "no user \(name) in \(call.tenant ?? "-")") }
        return user
    }

    func routes(into router: Router<BasicRequestContext>) {
        let api = router.group("v1")
        gate.open(api, .post, "session") { request, body in
            guard let form = try? JSONDecoder().decode(SignIn.self, from: Data(buffer: body)) else {
                throw Failure(.badRequest, "body must be {\"username\": …, \"password\": …}")
            }
            let attempted = UntrustedText.cleaned(form.username, maxBytes: 254)
            do {
                let user = try await gate.users.signIn(username: form.username, password: form.password)
                let started = try await gate.sessions.start(userId: user.id)
                await gate.record(user.principal(via: .session), "signin", tenant: user.tenant, request: request, outcome: .ok, status: 200)
                var response = JSONFailure.json(.ok, SessionState(user: user.username, role: user.role.rawValue, tenant: user.tenant,
                                                                  via: "session", csrfToken: started.csrfToken))
                response.setCookie(cookie(started.sessionId, maxAge: gate.sessions.longestSeconds))
                return response
            } catch let error as AccessError {
                let known = try? await gate.users.find(attempted.lowercased())
                await gate.record(nil, "signin", tenant: known?.tenant, request: request, outcome: .failed,
                                  status: error.code == .locked ? 429 : 401, error: error.message, detail: ["username": attempted])
                throw error
            }
        }
        gate.route(api, .get, "session", .selfService, tenant: .none, audit: nil) { call in
            var csrf: String?
            if call.principal.via == .session, let id = call.request.cookies[SessionStore.cookieName]?.value {
                csrf = try await gate.sessions.resume(id)?.csrfToken
            }
            let p = call.principal
            return JSONFailure.json(.ok, SessionState(user: p.name, role: p.role.rawValue, tenant: p.tenant, via: p.via.rawValue, csrfToken: csrf))
        }
        gate.route(api, .delete, "session", .selfService, tenant: .none, audit: "signout") { call in
            if let id = call.request.cookies[SessionStore.cookieName]?.value { try await gate.sessions.end(id) }
            var response = Response(status: .noContent)
            response.setCookie(cookie("", maxAge: 0))
            return response
        }
        gate.route(api, .post, "session/password", .selfService, tenant: .none, audit: "password.change") { call in
            let change = try call.decode(PasswordChange.self, "{\"current\": …, \"new\": …}")
            let user: User
            do { user = try await gate.users.signIn(username: call.principal.name, password: change.current) } catch let e as AccessError where e.code == .unauthenticated {
                throw AccessError(.forbidden, "the current password is wrong")
            }
            try await gate.users.setPassword(user, to: change.new)
            try await gate.sessions.endAll(userId: user.id)
            var response = Response(status: .noContent)
            response.setCookie(cookie("", maxAge: 0))
            return response
        }

        gate.route(api, .get, "tokens", .selfService, tenant: .none) { call in
            try JSONFailure.encoded(.ok, try await gate.tokens.list(userId: call.principal.userId))
        }
        gate.route(api, .post, "tokens", .selfService, tenant: .none, audit: "token.create") { call in
            let new = try call.decode(NewToken.self, "{\"name\": …, \"role\": …, \"days\": …}")
            guard let user = try await gate.users.active(id: call.principal.userId) else { throw AccessError(.unauthenticated, "user removed") }
            let role = try new.role.map(Role.parse) ?? call.principal.role
            guard call.principal.role.mayGrant(role) else { throw AccessError(.forbidden, "a \(call.principal.role.rawValue) caller cannot make a \(role.rawValue) token") }
            let made = try await gate.tokens.create(for: user, name: new.name, role: role, days: new.days ?? 90)
            struct Created: Encodable { let token: APITokens.Token; let secret: String }
            return try JSONFailure.encoded(.created, Created(token: made.token, secret: made.text))
        }
        gate.route(api, .delete, "tokens/:id", .selfService, tenant: .none, audit: "token.revoke") { call in
            guard let id = call.context.parameters.get("id") else { throw Failure(.badRequest, "token id missing") }
            let token = try await gate.tokens.find(id)
            if token.userId != call.principal.userId {
                // Someone else's token: only an admin of that user's tenant may revoke it.
                guard let tenant = token.tenant else { throw AccessError(.forbidden, "only its owner may revoke this token") }
                try AccessPolicy.require(call.principal, .usersChange, tenant: tenant)
            }
            return try JSONFailure.encoded(.ok, try await gate.tokens.revoke(id))
        }

        gate.route(api, .get, "tenants/:tenant/users", .usersRead, tenant: .path) { call in
            try JSONFailure.encoded(.ok, try await gate.users.list(tenant: try call.requiredTenant()))
        }
        gate.route(api, .post, "tenants/:tenant/users", .usersChange, tenant: .path, audit: "user.add") { call in
            let new = try call.decode(NewUser.self, "{\"username\": …, \"role\": \"admin\" | \"read-only\", \"password\": …}")
            let role = try Role.parse(new.role)
            guard role.isTenantBound else { throw Failure(.badRequest, "a tenant's users are admin or read-only") }
            return try JSONFailure.encoded(.created, try await gate.users.add(username: new.username, role: role, tenant: try call.requiredTenant(),
                                                                              password: new.password, by: call.principal))
        }
        gate.route(api, .post, "tenants/:tenant/users/:user/role", .usersChange, tenant: .path, audit: "user.role") { call in
            let change = try call.decode(RoleChange.self, "{\"role\": \"admin\" | \"read-only\"}")
            let changed = try await gate.users.setRole(try await tenantUser(call), to: try Role.parse(change.role))
            try await gate.sessions.endAll(userId: changed.id)
            return try JSONFailure.encoded(.ok, changed)
        }
        gate.route(api, .delete, "tenants/:tenant/users/:user", .usersChange, tenant: .path, audit: "user.remove") { call in
            let user = try await tenantUser(call)
            guard user.id != call.principal.userId else { throw Failure(.conflict, "you cannot remove yourself") }
            try await gate.users.remove(user)
            try await gate.sessions.endAll(userId: user.id)
            return Response(status: .noContent)
        }

        gate.route(api, .get, "tenants/:tenant/audit/actions", .auditRead, tenant: .path) { call in
            let q = call.request.uri.queryParameters
            let iso = ISO8601DateFormatter()
            func date(_ name: String) throws -> Date? {
                guard let text = q[Substring(name)].map(String.init) else { return nil }
                guard let date = iso.date(from: text) else { throw Failure(.badRequest, "\(name) must be ISO 8601 like 2026-11-22T08:00:00Z") }
                return date
            }
            let limit = try q["limit"].map { text -> Int in
                guard let n = Int(text), (1...1000).contains(n) else { throw Failure(.badRequest, "limit must be 1-1000") }
                return n
            } ?? 100
            let before = try q["cursor"].map { text -> Int in
                guard let n = Int(text), n > 0 else { throw Failure(.badRequest, "cursor must be the 'next' of a previous page") }
                return n
            }
            let page = try await gate.actions.search(.init(tenant: try call.requiredTenant(), from: try date("from"), to: try date("to"),
                                                           actor: q["actor"].map(String.init), action: q["action"].map(String.init),
                                                           before: before, limit: limit))
            if q["format"] == "csv" { return Self.csv(page) }
            return try JSONFailure.encoded(.ok, page)
        }
    }

    /// A page of the user action log as CSV (RFC 4180 quoting; a cell starting with =, +, -
    /// or @ is prefixed with ' so a spreadsheet never runs it as a formula).
    static func csv(_ page: UserActionLog.Page) -> Response {
        func cell(_ text: String) -> String {
            var t = text
            if let first = t.first, "=+-@".contains(first) { t = "'" + t }
            return "\"" + t.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var out = "id,at,actor,action,target,outcome,detail\r\n"
        for e in page.entries {
            let detail = e.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
            out += [String(e.id), e.at, e.actor, e.action, e.target, e.outcome.rawValue, detail].map(cell).joined(separator: ",") + "\r\n"
        }
        var headers: HTTPFields = [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"user-actions.csv\""]
        if let next = page.next { headers[HTTPField.Name("Link")!] = "<?cursor=\(next)>; rel=\"next\"" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: out)))
    }
}
