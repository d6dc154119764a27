import Curl
import Foundation
import NIOSSL
import Observability
import Postgres
import Schema
import ServerTLS
import Settings
import Testing

@testable import AuditWorker
@testable import CRMWorker
@testable import Console
@testable import Router
@testable import Scheduler
@testable import Worker

/// Encryption in transit: every server of the fleet, built as it runs, answers HTTPS with a
/// certificate of the local CA `ops/test` made (as `ops/setup-and-run` does) and refuses plain
/// HTTP; clients verify certificates; the SMTP relay is reached with STARTTLS and AUTH; Postgres
/// is reached with `sslmode=verify-full`.
@Suite(.needsServers) struct TLSTests {
    static var dir: String { TestServers.environment("SB_TEST_TLS_DIR") }
    static var caFile: String { dir + "/ca.pem" }
    /// What `use_local_tls` (ops/lib.sh) exports for every process.
    static var tlsEnvironment: [String: String] {
        ["SB_TLS_CERT_FILE": dir + "/server.pem", "SB_TLS_KEY_FILE": dir + "/server.key", "SB_TLS_CA_FILE": caFile]
    }

    /// `port` answers `path` over HTTPS to a client trusting the local CA, and nothing else: plain
    /// HTTP gets no answer, and a client that trusts only the system's CAs refuses the server.
    static func expectHTTPSOnly(_ port: Int, path: String = "/health", status: Int = 200) async throws {
        let trusting = HTTPClient(maxConnections: 2, timeoutMs: 5000, policy: OutboundPolicy.open.trusting(caFile))
        let systemOnly = HTTPClient(maxConnections: 1, timeoutMs: 5000, policy: .open)
        #expect(try await trusting.send(HTTPRequest(url: "https://127.0.0.1:\(port)\(path)")).status == status)
        #expect(try await trusting.send(HTTPRequest(url: "https://localhost:\(port)\(path)")).status == status)
        await #expect(throws: HTTPClientError.self) { _ = try await trusting.send(HTTPRequest(url: "http://127.0.0.1:\(port)\(path)")) }
        await #expect(throws: HTTPClientError.self) { _ = try await systemOnly.send(HTTPRequest(url: "https://127.0.0.1:\(port)\(path)")) }
        await trusting.shutdown()
        await systemOnly.shutdown()
    }

    @Test func theCertificateSettingsAreCheckedAtStart() throws {
        let tls = try #require(try ServerTLS.fromEnvironment(Self.tlsEnvironment))
        #expect(tls.configuration.minimumTLSVersion == .tlsv12)
        #expect(try ServerTLS.fromEnvironment([:]) == nil)
        #expect(throws: ServerTLSError.self) { try ServerTLS.fromEnvironment(["SB_TLS_CERT_FILE": Self.dir + "/server.pem"]) }
        #expect(throws: ServerTLSError.self) { try ServerTLS(certificateFile: Self.dir + "/missing.pem", keyFile: Self.dir + "/server.key") }
        // A CA file that is not there is a settings error, not a failure on the first call.
        #expect(throws: SettingsError.self) { try CommonSettings(EnvironmentVariables(["SB_TLS_CA_FILE": "/nonexistent/ca.pem"]), defaultPort: 0) }
    }

    @Test func everyProcessOfTheFleetServesHTTPSOnly() async throws {
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let prefix = TestServers.uniquePrefix()
        let schedules = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-schedules.json")
        try Data("[]".utf8).write(to: schedules)
        defer { try? FileManager.default.removeItem(at: schedules) }
        func env(_ extra: [String: String] = [:]) -> EnvironmentVariables {
            InProcessAppTests.environment(prefix: prefix, schema: postgres.configuration.schema, Self.tlsEnvironment.merging(extra) { $1 })
        }
        try await InProcessAppTests.running({ try buildConsole(try ConsoleSettings(env()), registry: MetricsRegistry(), onBound: $0) }) { port in
            try await Self.expectHTTPSOnly(port)
            // Browsers are told to come back over HTTPS only.
            let client = HTTPClient(maxConnections: 1, policy: OutboundPolicy.open.trusting(Self.caFile))
            #expect(try await client.send(HTTPRequest(url: "https://127.0.0.1:\(port)/health")).header("Strict-Transport-Security") == "max-age=31536000")
            await client.shutdown()
        }
        try await InProcessAppTests.running({ try buildRouter(try RouterSettings(env()), registry: MetricsRegistry(), onBound: $0) }) { port in
            try await Self.expectHTTPSOnly(port)
            // The wire fast path of POST /v1/route sits behind TLS too: no key, 401.
            let client = HTTPClient(maxConnections: 1, policy: OutboundPolicy.open.trusting(Self.caFile))
            let answer = try await client.send(.json("POST", "https://127.0.0.1:\(port)/v1/route", body: #"{"tenant":"acme","phone":"+15551230001"}"#))
            #expect(answer.status == 401)
            await client.shutdown()
        }
        try await InProcessAppTests.running({ try await buildWorker(try WorkerAppSettings(env(["SB_QUEUES": "default"])), registry: MetricsRegistry(), onBound: $0) }) {
            try await Self.expectHTTPSOnly($0, path: "/metrics")
        }
        try await InProcessAppTests.running({ try buildScheduler(try SchedulerSettings(env(["SB_SCHEDULES_FILE": schedules.path])), registry: MetricsRegistry(), onBound: $0) }) {
            try await Self.expectHTTPSOnly($0)
        }
        try await InProcessAppTests.running({ try await buildCRMWorker(try CRMSettings(env()), registry: MetricsRegistry(), onBound: $0) }) { try await Self.expectHTTPSOnly($0) }
        try await InProcessAppTests.running({ try buildAuditWorker(try AuditWorkerSettings(env()), registry: MetricsRegistry(), onBound: $0) }) { try await Self.expectHTTPSOnly($0) }
        try await TestServers.cleanup(prefix: prefix, redis: TestServers.redis())
        try await TestServers.dropSchema(postgres)
    }

    @Test func theSimulatorsServeHTTPSOnly() async throws {
        let slack = try await SimulatorProcess("slack", [], environment: Self.tlsEnvironment)
        try await Self.expectHTTPSOnly(slack.port, path: "/_sim/messages")
        slack.child.terminate()
    }

    @Test func alertEmailGoesThroughSTARTTLSAndAUTH() async throws {
        let mailbox = FileManager.default.temporaryDirectory.appendingPathComponent(TestServers.uniquePrefix("mail")).path
        defer { try? FileManager.default.removeItem(atPath: mailbox) }
        let relay = try await SimulatorProcess("smtp", ["--mailbox", mailbox, "--username", "alerts@acme.example", "--password", "pw-1"],
                                               environment: Self.tlsEnvironment)
        defer { relay.child.terminate() }
        let url = "smtp://127.0.0.1:\(relay.port)"
        let message = MailMessage(from: "switchboard@acme.example", to: ["oncall@acme.example"],
                                  text: "From: switchboard@acme.example\r\nTo: oncall@acme.example\r\nSubject: t\r\n\r\nbody\r\n")
        let trusting = MailSender(caFile: Self.caFile)
        try await trusting.send(message, via: MailRelay(url: url, username: "alerts@acme.example", password: "pw-1", requireTLS: true))
        let saved = try FileManager.default.contentsOfDirectory(atPath: mailbox)
        #expect(saved.count == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: mailbox + "/" + saved[0]))) as? [String: Any])
        #expect(json["tls"] as? Bool == true)
        #expect(json["user"] as? String == "alerts@acme.example")
        // A wrong password, no AUTH at all, or a relay whose certificate is not trusted: refused.
        await #expect(throws: HTTPClientError.self) {
            try await trusting.send(message, via: MailRelay(url: url, username: "alerts@acme.example", password: "wrong", requireTLS: true))
        }
        await #expect(throws: HTTPClientError.self) { try await trusting.send(message, via: MailRelay(url: url, requireTLS: true)) }
        let systemOnly = MailSender()
        await #expect(throws: HTTPClientError.self) {
            try await systemOnly.send(message, via: MailRelay(url: url, username: "alerts@acme.example", password: "pw-1", requireTLS: true))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: mailbox).count == 1)
        await trusting.shutdown()
        await systemOnly.shutdown()
    }

    @Test func postgresIsReachedWithVerifyFull() async throws {
        let separator = TestServers.postgresURL.contains("?") ? "&" : "?"
        let verified = PostgresClient(PostgresConfiguration(url: TestServers.postgresURL + separator + "sslmode=verify-full&sslrootcert=" + Self.caFile, poolSize: 1))
        let row = try await verified.query("SELECT ssl::text AS ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        #expect(row.value(0, "ssl") == "true")
        #expect(["TLSv1.2", "TLSv1.3"].contains(row.value(0, "version") ?? ""))
        await verified.shutdown()
        // The same server checked against CAs that did not sign it: no connection.
        let wrongCA = PostgresClient(PostgresConfiguration(url: TestServers.postgresURL + separator + "sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt",
                                     poolSize: 1))
        await #expect(throws: PostgresError.self) { _ = try await wrongCA.query("SELECT 1") }
        await wrongCA.shutdown()
    }
}
