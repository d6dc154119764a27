import Access
import Curl
import Foundation
import Postgres
import Schema
import Testing

/// Sign-in sessions, CSRF, lockout, token revocation and user removal over the console's real
/// HTTP; the user action log's chain verified, tampered with and found out, on real Postgres.
@Suite(.needsServers) struct AccessFlowTests {
    @Test func sessionsNeedTheirCSRFTokenAndEndWithSignOut() async throws {
        let fixture = try await ConsoleTests.Console.start()
        let (http, base) = (fixture.http, fixture.base)
        func send(_ method: String, _ path: String, _ body: String? = nil, _ headers: [(String, String)] = []) async throws -> HTTPResponse {
            try await http.send(HTTPRequest(method: method, url: base + path, headers: headers + [("Content-Type", "application/json")], body: body.map { Array($0.utf8) }))
        }
        #expect(try await send("POST", "/v1/session", #"{"username":"admin@demo","password":"wrong password!"}"#).status == 401)
        #expect(try await send("POST", "/v1/session", #"{"username":"nobody@demo","password":"wrong password!"}"#).status == 401)
        #expect(try await send("POST", "/v1/session", "{nope").status == 400)
        let signedIn = try await send("POST", "/v1/session", #"{"username":"admin@demo","password":"demo admin password"}"#)
        #expect(signedIn.status == 200, "\(signedIn.text)")
        let setCookie = try #require(signedIn.header("Set-Cookie"))
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("Secure") && setCookie.contains("SameSite=Strict"), "\(setCookie)")
        let session = String(setCookie.split(separator: ";")[0])
        let csrf = try #require((try JSONSerialization.jsonObject(with: Data(signedIn.body)) as? [String: Any])?["csrfToken"] as? String)

        let who = try await send("GET", "/v1/session", nil, [("Cookie", session)])
        #expect(who.status == 200)
        #expect(who.text.contains(#""user":"admin@demo""#))
        let rules = String(decoding: FileManager.default.contents(atPath: "ops/demo/routing-rules.json") ?? Data(), as: UTF8.self)
        #expect(try await send("POST", "/v1/tenants/demo/routing/rules", rules, [("Cookie", session)]).status == 403, "no CSRF token")
        #expect(try await send("POST", "/v1/tenants/demo/routing/rules", rules, [("Cookie", session), ("X-CSRF-Token", "0" + csrf.dropFirst())]).status == 403)
        #expect(try await send("POST", "/v1/tenants/demo/routing/rules", rules, [("Cookie", session), ("X-CSRF-Token", csrf)]).status == 201)
        #expect(try await send("DELETE", "/v1/session", nil, [("Cookie", session), ("X-CSRF-Token", csrf)]).status == 204)
        #expect(try await send("GET", "/v1/session", nil, [("Cookie", session)]).status == 401, "signed out")

        // Repeated failures lock the account: even the right password is refused, with Retry-After.
        for _ in 0..<UserStore.failuresBeforeLock {
            #expect(try await send("POST", "/v1/session", #"{"username":"admin@demo","password":"wrong password!"}"#).status == 401)
        }
        // Failed sign-ins so far: 2 above, 5 here, and the locked one below (the malformed body is no attempt).
        let locked = try await send("POST", "/v1/session", #"{"username":"admin@demo","password":"demo admin password"}"#)
        #expect(locked.status == 429)
        #expect(Int(locked.header("Retry-After") ?? "") ?? 0 > 0)
        let signins = try await fixture.pg.query("""
            SELECT outcome, count(*) AS n FROM user_actions WHERE action = 'signin' GROUP BY outcome ORDER BY outcome
            """)
        #expect(signins.records.map { "\(($0["outcome"] ?? nil) ?? "")=\(($0["n"] ?? nil) ?? "")" } == ["failed=8", "ok=1"], "\(signins.records)")

        await http.shutdown()
        fixture.process.terminate()
        _ = await fixture.process.waitForExit(seconds: 10)
        try await TestServers.cleanup(prefix: fixture.prefix, redis: TestServers.redis())
        try await TestServers.dropSchema(fixture.pg)
    }

    @Test func revokedTokensAndRemovedUsersStopOnTheNextRequest() async throws {
        let fixture = try await ConsoleTests.Console.start()
        let (pg, http, base) = (fixture.pg, fixture.http, fixture.base)
        func get(_ path: String, _ token: String) async throws -> Int {
            try await http.send(HTTPRequest(url: base + path, headers: [("Authorization", "Bearer \(token)")])).status
        }
        func send(_ method: String, _ path: String, _ token: String, _ body: String) async throws -> HTTPResponse {
            try await http.send(HTTPRequest(method: method, url: base + path, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                                            body: Array(body.utf8)))
        }
        // The admin adds a read-only user and makes that user a token through the CLI's store.
        let added = try await send("POST", "/v1/tenants/demo/users", fixture.adminToken, #"{"username":"vic@demo","role":"read-only"}"#)
        #expect(added.status == 201, "\(added.text)")
        #expect(!added.text.contains("password"))
        let users = UserStore(postgres: pg, hasher: PasswordHasher(cost: 4)), tokens = APITokens(postgres: pg)
        let vic = try await users.find("vic@demo")
        let made = try await tokens.create(for: vic, name: "reports")
        #expect(try await get("/v1/tenants/demo/routing/rules", made.text) == 200)
        // A read-only user cannot make an admin token, nor add users.
        #expect(try await send("POST", "/v1/tokens", made.text, #"{"name":"x","role":"admin"}"#).status == 403)
        #expect(try await send("POST", "/v1/tenants/demo/users", made.text, #"{"username":"eve@demo","role":"admin"}"#).status == 403)
        // Revoked: refused on the very next request.
        let revoked = try await http.send(HTTPRequest(method: "DELETE", url: base + "/v1/tokens/\(made.token.id)", headers: [("Authorization", "Bearer \(fixture.adminToken)")]))
        #expect(revoked.status == 200, "\(revoked.text)")
        #expect(try await get("/v1/tenants/demo/routing/rules", made.text) == 401)
        // A second token, then the user is removed: that token stops too.
        let second = try await tokens.create(for: vic, name: "reports 2")
        #expect(try await get("/v1/tenants/demo/routing/rules", second.text) == 200)
        #expect(try await http.send(HTTPRequest(method: "DELETE", url: base + "/v1/tenants/demo/users/vic@demo",
                                                headers: [("Authorization", "Bearer \(fixture.adminToken)")])).status == 204)
        #expect(try await get("/v1/tenants/demo/routing/rules", second.text) == 401)
        // The last admin of a tenant stays.
        let admin = try await users.find("admin@demo")
        await #expect(throws: AccessError.self) { try await users.remove(admin) }
        await #expect(throws: AccessError.self) { _ = try await users.setRole(admin, to: .readOnly) }
        // An expired token is refused.
        let expiring = try await tokens.create(for: admin, name: "short", days: 1)
        try await pg.query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [expiring.token.id])
        #expect(try await get("/v1/tenants/demo/routing/rules", expiring.text) == 401)

        let actions = try await pg.query("SELECT action, actor FROM user_actions WHERE tenant_id = 'demo' AND outcome = 'ok' ORDER BY seq")
        let seen = actions.records.map { "\(($0["action"] ?? nil) ?? "") \(($0["actor"] ?? nil) ?? "")" }
        #expect(seen.contains("user.add admin@demo") && seen.contains("token.revoke admin@demo") && seen.contains("user.remove admin@demo"), "\(seen)")

        await http.shutdown()
        fixture.process.terminate()
        _ = await fixture.process.waitForExit(seconds: 10)
        try await TestServers.cleanup(prefix: fixture.prefix, redis: TestServers.redis())
        try await TestServers.dropSchema(pg)
    }

    @Test func theActionLogIsAppendOnlyAndTamperingIsFound() async throws {
        let pg = try await TestServers.postgres()
        _ = try await SchemaMigrations.migrator.migrate(pg)
        let log = UserActionLog(postgres: pg)
        let who = Principal(userId: 7, name: "ana@acme", role: .admin, tenant: "acme", via: .session)
        // Concurrent writers on one chain still make one unbroken chain.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask { try await log.record(who, "rules.save", tenant: "acme", target: "v\(i)", detail: ["n": String(i), "odd": "a\u{0}b\"c"]) }
            }
            try await group.waitForAll()
        }
        try await log.record(nil, "signin", tenant: "globex", outcome: .failed, detail: ["username": "x"])
        let intact = try await log.verify(all: true)
        #expect(intact.map(\.rows) == [40, 1])
        #expect(intact.allSatisfy { $0.firstBreak == nil })

        // The application's role cannot change or remove a row.
        await #expect(throws: PostgresError.self) { try await pg.query("UPDATE user_actions SET actor = 'mallory' WHERE seq = 3") }
        await #expect(throws: PostgresError.self) { try await pg.query("DELETE FROM user_actions WHERE seq = 3") }
        await #expect(throws: PostgresError.self) { try await pg.query("TRUNCATE user_actions") }

        // Someone with the database's superuser rights bypasses the trigger and edits row 12: found.
        let superuser = PostgresClient(PostgresConfiguration(url: TestServers.postgresURL.replacingOccurrences(of: "://switchboard@", with: "://postgres@"),
                                                             poolSize: 1, schema: pg.configuration.schema))
        try await superuser.transaction { db in
            _ = try db.query("SET LOCAL session_replication_role = replica")
            _ = try db.query("UPDATE user_actions SET detail = '{\"n\":\"x\"}' WHERE tenant_id = 'acme' AND seq = 12")
        }
        await superuser.shutdown()
        let tampered = try await log.verify(tenant: "acme")
        #expect(tampered.first?.firstBreak?.seq == 12)
        #expect(tampered.first?.rows == 11)
        #expect(tampered.first?.firstBreak?.reason.contains("content") == true)

        // Paging and filters.
        let page = try await log.search(.init(tenant: "acme", limit: 15))
        #expect(page.entries.count == 15)
        let rest = try await log.search(.init(tenant: "acme", before: page.next, limit: 100))
        #expect(rest.entries.count == 25)
        #expect(rest.next == nil)
        #expect(Set(page.entries.map(\.id)).isDisjoint(with: rest.entries.map(\.id)))
        #expect(try await log.search(.init(tenant: "acme", actor: "nobody")).entries.isEmpty)
        #expect(try await log.search(.init(tenant: "globex", action: "signin")).entries.first?.outcome == .failed)
        try await TestServers.dropSchema(pg)
    }
}
