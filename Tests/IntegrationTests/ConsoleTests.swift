import Access
import Foundation
import Curl
import Postgres
import Schema
import Testing
import Vault

/// The console process's admin API, over real HTTP.
@Suite(.needsServers) struct ConsoleTests {
    /// A console process with its own schema and key prefix, ready to answer.
    struct Console {
        let pg: PostgresClient
        let prefix: String
        /// An operator's API token (imports of every tenant).
        let token: String
        /// An API token of `admin@demo`, admin of tenant demo.
        let adminToken: String
        let process: ChildProcess
        let http: HTTPClient
        let base: String

        static func start() async throws -> Console {
            let pg = try await TestServers.postgres()
            try await SchemaMigrations.migrator.migrate(pg)
            let prefix = TestServers.uniquePrefix()
            let port = try TestServers.freePort()
            let users = UserStore(postgres: pg, hasher: PasswordHasher(cost: 4))
            let cli = Principal.cli(login: "test")
            let cs = try await users.add(username: "cs@switchboard", role: .operator, tenant: nil, password: nil, by: cli)
            let admin = try await users.add(username: "admin@demo", role: .admin, tenant: "demo", password: "demo admin password", by: cli)
            let tokens = APITokens(postgres: pg)
            let token = try await tokens.create(for: cs, name: "tests").text
            let adminToken = try await tokens.create(for: admin, name: "tests").text
            let process = try ChildProcess("console", environment: [
                "SB_REDIS_PORT": String(TestServers.redisPort), "SB_KEY_PREFIX": prefix, "SB_POSTGRES_URL": TestServers.postgresURL,
                "SB_POSTGRES_SCHEMA": pg.configuration.schema!, "SB_MASTER_KEYS": MasterKeyRing.generateEntry(id: "k1"),
                "SB_BCRYPT_COST": "4", "SB_HTTP_PORT": String(port)])
            let http = HTTPClient(maxConnections: 2)
            let base = "http://127.0.0.1:\(port)"
            #expect(try await TestServers.eventually(20) { (try? await http.send(HTTPRequest(url: base + "/health")))?.status == 200 }, "\(process.log)")
            return Console(pg: pg, prefix: prefix, token: token, adminToken: adminToken, process: process, http: http, base: base)
        }
    }

    @Test func adminAPIValidatesAuthenticatesAndNeverReturnsCredentials() async throws {
        let fixture = try await Console.start()
        let (pg, prefix, token, console, http, base) = (fixture.pg, fixture.prefix, fixture.token, fixture.process, fixture.http, fixture.base)
        let auth = [("Authorization", "Bearer \(token)")]
        func send(_ method: String, _ path: String, _ body: String? = nil, headers: [(String, String)]? = nil) async throws -> HTTPResponse {
            try await http.send(HTTPRequest(method: method, url: base + path, headers: (headers ?? auth) + [("Content-Type", "application/json")],
                                            body: body.map { Array($0.utf8) }))
        }

        #expect(try await send("GET", "/v1/imports", headers: []).status == 401)
        #expect(try await send("GET", "/v1/imports", headers: [("Authorization", "Bearer wrong")]).status == 401)
        let platforms = try await send("GET", "/v1/platforms")
        #expect(platforms.status == 200)
        #expect(platforms.text.contains(#""id":"gong""#))
        let quote = try await send("GET", "/v1/quote?platform=gong&calls=5000&urgent=true")
        #expect(quote.status == 200)
        #expect(quote.text.contains(#""requests":107"#))
        #expect(try await send("GET", "/v1/quote?platform=myspace&calls=5").status == 400)
        #expect(try await send("GET", "/v1/quote?calls=abc").status == 400)

        let bad = try await send("POST", "/v1/imports", "{not json")
        #expect(bad.status == 400)
        #expect(bad.text.contains("JSON object"))
        let missing = try await send("POST", "/v1/imports", #"{"tenant":"acme","platform":"gong","from":"2025-01-01","to":"2025-02-01","credentials":{"accessKey":"a"}}"#)
        #expect(missing.status == 400)
        #expect(missing.text.contains("accessKeySecret"))

        let created = try await send("POST", "/v1/imports", #"{"tenant":"acme","platform":"gong","from":"2025-01-01","to":"2025-02-01","urgency":"deal","credentials":{"accessKey":"AK","accessKeySecret":"top-secret-value"},"callbackUrl":"https://cs.example/hook"}"#)
        #expect(created.status == 201)
        #expect(!created.text.contains("top-secret-value"))
        #expect(created.text.contains("callbackSecret"))
        let id = try #require((try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any]).flatMap { ($0["request"] as? [String: Any])?["id"] as? Int })
        let shown = try await send("GET", "/v1/imports/\(id)")
        #expect(shown.status == 200)
        #expect(!shown.text.contains("top-secret-value"))
        #expect(shown.text.contains(#""state":"validating""#))
        #expect(try await send("GET", "/v1/imports/999999").status == 404)
        #expect(try await send("GET", "/v1/imports/abc").status == 400)
        #expect(try await send("POST", "/v1/imports/\(id)/cancel").status == 200)
        #expect(try await send("POST", "/v1/imports/\(id)/cancel").status == 409)
        #expect(try await send("POST", "/v1/imports/\(id)/retry-failed").status == 409)
        #expect(!console.log.contains("top-secret-value"))

        await http.shutdown()
        console.terminate()
        #expect(await console.waitForExit(seconds: 10) == 0)
        try await TestServers.cleanup(prefix: prefix, redis: TestServers.redis())
        try await TestServers.dropSchema(pg)
    }

    @Test func routingRulesAreValidatedVersionedActivatedAndTraced() async throws {
        let fixture = try await Console.start()
        let (pg, prefix, token, console, http, base) = (fixture.pg, fixture.prefix, fixture.adminToken, fixture.process, fixture.http, fixture.base)
        func send(_ method: String, _ path: String, _ body: String? = nil, auth: Bool = true) async throws -> HTTPResponse {
            try await http.send(HTTPRequest(method: method, url: base + path,
                                            headers: (auth ? [("Authorization", "Bearer \(token)")] : []) + [("Content-Type", "application/json"), ("X-Actor", "mallory")],
                                            body: body.map { Array($0.utf8) }))
        }
        let rules = String(decoding: FileManager.default.contents(atPath: "ops/demo/routing-rules.json") ?? Data(), as: UTF8.self)
        #expect(!rules.isEmpty)
        let broken = rules.replacingOccurrences(of: #""cold": "zendesk""#, with: #""cold": "avaya""#)

        #expect(try await send("GET", "/v1/tenants/demo/routing/rules", auth: false).status == 401)
        #expect(try await send("POST", "/v1/routing/rules/validate", rules).status == 200)
        let invalid = try await send("POST", "/v1/routing/rules/validate", broken)
        #expect(invalid.status == 422)
        #expect(invalid.text.contains("unknown dialer 'avaya'"))
        #expect(try await send("POST", "/v1/routing/rules/validate", "{nope").status == 400)
        #expect(try await send("POST", "/v1/tenants/demo/routing/rules", broken).status == 422)

        let saved = try await send("POST", "/v1/tenants/demo/routing/rules?note=first", rules)
        #expect(saved.status == 201)
        #expect(saved.text.contains(#""version":1"#))
        #expect(try await send("POST", "/v1/tenants/demo/routing/rules?activate=true", rules.replacingOccurrences(of: #""warm": "dialfire""#, with: #""warm": "zendesk""#)).status == 201)
        #expect(try await send("POST", "/v1/tenants/demo/routing/rules/1/activate").status == 200)
        #expect(try await send("POST", "/v1/tenants/demo/routing/rules/7/activate").status == 400)
        let versions = try await send("GET", "/v1/tenants/demo/routing/rules")
        #expect(versions.text.contains(#""active":true,"createdAt""#) || versions.text.contains(#""active":true"#))
        let one = try await send("GET", "/v1/tenants/demo/routing/rules/2")
        #expect(one.status == 200)
        #expect(one.text.contains(#""warm":"zendesk""#))
        #expect(try await send("GET", "/v1/tenants/demo/routing/rules/9").status == 404)
        // Out-of-range ids and versions are the client's mistake: 400 with a plain message, no SQL.
        for path in ["/v1/tenants/demo/routing/rules/2147483648", "/v1/tenants/demo/routing/rules/0", "/v1/tenants/demo/routing/rules/99999999999999999999"] {
            let answer = try await send("GET", path)
            #expect(answer.status == 400, "\(path)")
            #expect(!answer.text.contains("SELECT") && !answer.text.contains("postgres"), "\(answer.text)")
        }
        #expect(try await send("POST", "/v1/tenants/demo/routing/rules/2147483648/activate").status == 400)
        #expect(try await send("GET", "/v1/tenants/Demo/routing/rules").status == 400)
        let wrongType = try await send("POST", "/v1/routing/rules/validate", #"{"timeZone": 7}"#)
        #expect(wrongType.status == 400)
        #expect(!wrongType.text.contains("CodingKeys") && !wrongType.text.contains("debugDescription"), "\(wrongType.text)")
        let changes = try await send("GET", "/v1/tenants/demo/routing/changes")
        #expect(changes.text.contains("tier 'warm': zendesk → dialfire"), "\(changes.text)")
        #expect(changes.text.contains(#""actor":"admin@demo""#), "the authenticated user, never a header's claim")
        #expect(!changes.text.contains("mallory"))

        #expect(try await send("GET", "/v1/tenants/demo/routing/calls/nope").status == 404)
        let search = try await send("GET", "/v1/tenants/demo/routing/calls?caller=%2B15551230001")
        #expect(search.status == 200)
        #expect(search.text == "[]")
        #expect(try await send("GET", "/v1/tenants/demo/routing/calls?from=yesterday").status == 400)
        #expect(try await send("GET", "/v1/tenants/demo/routing/calls?caller=anonymous").status == 400)
        #expect(try await send("GET", "/v1/tenants/demo/routing/health").status == 200)

        await http.shutdown()
        console.terminate()
        _ = await console.waitForExit(seconds: 10)
        let redis = TestServers.redis()
        try await TestServers.cleanup(prefix: prefix, redis: redis)
        try await TestServers.dropSchema(pg)
    }
}
