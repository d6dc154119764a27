import Foundation
import Testing

@testable import Curl

/// Outbound calls to URLs a customer supplies: https only, no internal addresses unless the
/// configuration names them, no redirects, capped answers.
@Suite struct OutboundPolicyTests {
    @Test(arguments: ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                      "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"])
    func internalAddressesAreNotPublic(_ text: String) throws {
        #expect(try #require(IPAddress(text)).isPublic == false)
    }

    @Test(arguments: ["8.8.8.8", "172.32.0.1", "192.169.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"])
    func publicAddressesArePublic(_ text: String) throws {
        #expect(try #require(IPAddress(text)).isPublic)
    }

    /// A throwaway web server on 127.0.0.1 serving a directory (python3's http.server).
    final class StaticServer: @unchecked Sendable {
        let process = Process()
        let port: Int
        let root: URL

        init() async throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("sb-static-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
            try Data(repeating: 0x61, count: 100_000).write(to: root.appendingPathComponent("big.txt"))
            try Data("small".utf8).write(to: root.appendingPathComponent("small.txt"))
            port = try TestServers.freePort()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let probe = HTTPClient(policy: .open)
            _ = try await TestServers.eventually(10) { (try? await probe.send(HTTPRequest(url: "http://127.0.0.1:\(self.port)/small.txt")))?.status == 200 }
            await probe.shutdown()
        }

        func stop() {
            // SIGKILL: a child of the test runner inherits its blocked signals, SIGTERM included.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: root)
        }
    }

    @Test func customerURLsReachOnlyWhatThePolicyAllows() async throws {
        let server = try await StaticServer()
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        func refusal(_ policy: OutboundPolicy, _ url: String) async -> HTTPClientError? {
            let client = HTTPClient(policy: policy)
            defer { Task { await client.shutdown() } }
            do { _ = try await client.send(HTTPRequest(url: url, timeoutMs: 3000)); return nil } catch { return error as? HTTPClientError }
        }
        // Production defaults: https only, and no internal address, however the URL spells it.
        #expect(await refusal(OutboundPolicy(), base + "/small.txt")?.code == .refused)
        let httpOnly = OutboundPolicy(allowHTTP: true)
        for url in [base + "/small.txt", "http://localhost:\(server.port)/small.txt", "http://evil.example@127.0.0.1:\(server.port)/",
                    "http://0x7f000001:\(server.port)/", "http://[::1]:\(server.port)/", "http://169.254.169.254/latest/meta-data/",
                    "http://2130706433:\(server.port)/"] {
            let error = await refusal(httpOnly, url)
            #expect(error?.code == .refused, "\(url): \(String(describing: error))")
            #expect(error?.message.contains("internal address") == true, "\(url)")
        }
        #expect(await refusal(httpOnly, "ftp://127.0.0.1/")?.code == .refused)
        #expect(await refusal(httpOnly, "not a url")?.code == .invalidRequest)

        // Named in the allow-list: reachable. Redirects are answered, never followed; bodies over
        // the cap fail the call instead of filling memory.
        let allowed = HTTPClient(policy: OutboundPolicy(allowHTTP: true, allowedHosts: ["127.0.0.1"]), maxResponseBytes: 10_000)
        #expect(try await allowed.send(HTTPRequest(url: base + "/small.txt")).text == "small")
        let redirect = try await allowed.send(HTTPRequest(url: base + "/sub"))
        #expect(redirect.status == 301)
        await #expect(throws: HTTPClientError.self) { _ = try await allowed.send(HTTPRequest(url: base + "/big.txt")) }
        do { _ = try await allowed.send(HTTPRequest(url: base + "/big.txt")) } catch let error as HTTPClientError {
            #expect(error.code == .tooLarge)
        }
        #expect(try await allowed.send(HTTPRequest(url: base + "/big.txt", maxResponseBytes: 200_000)).body.count == 100_000)
        // The allow-list names hosts: localhost is not 127.0.0.1.
        #expect(await refusal(OutboundPolicy(allowHTTP: true, allowedHosts: ["127.0.0.1"]), "http://localhost:\(server.port)/small.txt")?.code == .refused)
        await allowed.shutdown()
    }
}
