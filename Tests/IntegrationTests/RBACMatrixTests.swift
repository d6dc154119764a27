import Access
import Curl
import Foundation
import Testing

/// The RBAC matrix: every operation of ops/openapi/console.yaml, as anonymous, a read-only
/// user, an admin of another tenant, an operator and the tenant's admin, against a running
/// console. The expected answer of each cell comes from the role table of issue 11 (written out
/// here, not from `AccessPolicy`), and the operation's `x-access` (its action and where its
/// tenant comes from).
@Suite(.needsServers) struct RBACMatrixTests {
    /// One operation of the OpenAPI document.
    struct Operation: CustomStringConvertible {
        let method: String
        let path: String
        let action: String?
        let tenantSource: String?
        var description: String { "\(method.uppercased()) \(path)" }
    }

    /// Every operation of an OpenAPI document with its `x-access` (the document is written in
    /// one shape: paths at two spaces, methods at four, `x-access` at six).
    static func operations(_ file: String) throws -> [Operation] {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var out: [Operation] = []
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("components:") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") { path = String(line.dropFirst(2).dropLast()); continue }
            for method in ["get", "post", "put", "delete", "patch"] where line == "    \(method):" {
                out.append(Operation(method: method, path: path ?? "?", action: nil, tenantSource: nil))
            }
            if line.hasPrefix("      x-access: "), let last = out.last, last.action == nil {
                let parts = line.dropFirst("      x-access: ".count).split(separator: " ").map(String.init)
                out[out.count - 1] = Operation(method: last.method, path: last.path, action: parts.first, tenantSource: parts.count > 1 ? parts[1] : nil)
            }
        }
        return out
    }

    enum Persona: String, CaseIterable { case anonymous, readOnly, otherAdmin, `operator`, admin }

    /// What the issue's role table says a persona gets for an action on tenant demo's data.
    static func allowed(_ persona: Persona, _ action: String) -> Bool {
        let readOnly = action.hasSuffix(".read")
        let tenantScoped = action != "tools" && action != "self"
        switch persona {
        case .anonymous: return false
        case .admin: return action != "imports.change"
        case .readOnly: return !tenantScoped || readOnly
        case .otherAdmin: return !tenantScoped
        case .operator: return !tenantScoped || action.hasPrefix("imports.")
        }
    }

    @Test func everyOperationAnswersEachRoleAsTheRoleTableSays() async throws {
        let fixture = try await ConsoleTests.Console.start()
        let (pg, http, base) = (fixture.pg, fixture.http, fixture.base)
        let users = UserStore(postgres: pg, hasher: PasswordHasher(cost: 4)), tokens = APITokens(postgres: pg)
        let cli = Principal.cli(login: "test")
        let viewer = try await users.add(username: "viewer@demo", role: .readOnly, tenant: "demo", password: nil, by: cli)
        let other = try await users.add(username: "admin@globex", role: .admin, tenant: "globex", password: nil, by: cli)
        var token: [Persona: String] = [.operator: fixture.token, .admin: fixture.adminToken]
        token[.readOnly] = try await tokens.create(for: viewer, name: "matrix").text
        token[.otherAdmin] = try await tokens.create(for: other, name: "matrix").text

        func send(_ persona: Persona, _ method: String, _ path: String, _ body: String?) async throws -> HTTPResponse {
            var headers = [("Content-Type", "application/json")]
            if let t = token[persona] { headers.append(("Authorization", "Bearer \(t)")) }
            return try await http.send(HTTPRequest(method: method.uppercased(), url: base + path, headers: headers, body: body.map { Array($0.utf8) }))
        }
        // Data of tenant demo for the operations to touch: an import request and a rules version.
        let created = try await send(.operator, "post", "/v1/imports", #"{"tenant":"demo","platform":"gong","from":"2025-01-01","to":"2025-02-01","credentials":{"accessKey":"AK","accessKeySecret":"S"}}"#)
        #expect(created.status == 201, "\(created.text)")
        let importId = try #require((try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any]).flatMap { ($0["request"] as? [String: Any])?["id"] as? Int })
        let rules = String(decoding: FileManager.default.contents(atPath: "ops/demo/routing-rules.json") ?? Data(), as: UTF8.self)
        #expect(try await send(.admin, "post", "/v1/tenants/demo/routing/rules", rules).status == 201)

        let operations = try Self.operations("ops/openapi/console.yaml")
        #expect(operations.count >= 25, "the document was read: \(operations)")
        let open: Set<String> = ["GET /health", "POST /v1/session"]
        var cells = 0
        for op in operations where !open.contains(op.description) {
            let action = try #require(op.action, "\(op) has no x-access: every operation must name its action")
            #expect(op.tenantSource != nil, "\(op) names where its tenant comes from")
            var path = op.path.replacingOccurrences(of: "{tenant}", with: "demo").replacingOccurrences(of: "{id}", with: op.path.hasPrefix("/v1/tokens") ? "0000000000000000" : String(importId))
                .replacingOccurrences(of: "{version}", with: "1").replacingOccurrences(of: "{call}", with: "c-1").replacingOccurrences(of: "{user}", with: "nobody@demo")
                .replacingOccurrences(of: "{key}", with: "ak_000000000000").replacingOccurrences(of: "{token}", with: "vt_000000000000")
            if op.tenantSource == "queryOrOwn" { path += "?tenant=demo" }
            let body: String? = op.method == "get" ? nil : (op.tenantSource == "body" ? #"{"tenant":"demo"}"# : "{}")
            for persona in Persona.allCases {
                let answer = try await send(persona, op.method, path, body)
                cells += 1
                #expect(answer.status < 500, "\(op) as \(persona): \(answer.status) \(answer.text)")
                if persona == .anonymous {
                    #expect(answer.status == 401, "\(op) anonymous: \(answer.status)")
                } else if Self.allowed(persona, action) {
                    #expect(answer.status != 401 && answer.status != 403, "\(op) as \(persona) should be allowed: \(answer.status) \(answer.text)")
                } else {
                    #expect(answer.status == 403, "\(op) as \(persona) should be refused: \(answer.status) \(answer.text)")
                }
            }
        }
        #expect(cells >= 25 * 5)

        // Without a tenant filter, a tenant admin sees only their own tenant's imports.
        let own = try await send(.otherAdmin, "get", "/v1/imports", nil)
        #expect(own.status == 200)
        #expect(own.text == "[]", "\(own.text)")
        // Refusals are in the user action log with the real identity.
        let denied = try await pg.query("SELECT count(*) AS n FROM user_actions WHERE actor = 'viewer@demo' AND outcome = 'denied' AND tenant_id = 'demo'")
        #expect((denied.value(0, "n").flatMap { Int($0) } ?? 0) > 5)
        let made = try await pg.query("SELECT actor FROM user_actions WHERE action = 'import.create' AND outcome = 'ok'")
        #expect(made.rows.compactMap { $0.first ?? nil }.contains("cs@switchboard"))

        await http.shutdown()
        fixture.process.terminate()
        _ = await fixture.process.waitForExit(seconds: 10)
        try await TestServers.cleanup(prefix: fixture.prefix, redis: TestServers.redis())
        try await TestServers.dropSchema(pg)
    }
}
