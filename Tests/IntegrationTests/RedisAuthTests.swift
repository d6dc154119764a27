import Foundation
import NIOPosix
import Redis
import Testing

/// Redis with an ACL user and password (what ops/setup-and-run runs): both clients authenticate
/// on every new connection, a wrong password or none is refused with a clear error, and the
/// password appears in no error text.
@Suite(.needsServers) struct RedisAuthTests {
    /// A redis-server on a free port whose only user is `switchboard` with `password`.
    final class ProtectedRedis: @unchecked Sendable {
        let port: Int
        let dir: String
        let process = Process()

        init(password: String) async throws {
            port = try TestServers.freePort()
            dir = NSTemporaryDirectory() + "sb-redis-acl-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "user default off\nuser switchboard on >\(password) ~* &* +@all\n".write(toFile: dir + "/acl.conf", atomically: true, encoding: .utf8)
            try "aclfile \(dir)/acl.conf\n".write(toFile: dir + "/redis.conf", atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
            process.arguments = [dir + "/redis.conf", "--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", ""]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let probe = RedisClient(RedisConfiguration(port: port, poolSize: 1, connectAttempts: 1, username: "switchboard", password: password))
            _ = try await TestServers.eventually(10) { (try? await probe.send(["PING"]))?.string == "PONG" }
            await probe.shutdown()
        }

        /// Stops the server (SIGKILL: nothing of it is kept) without blocking a concurrency thread.
        func stop() async {
            kill(process.processIdentifier, SIGKILL)
            for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test func bothClientsAuthenticateAndAWrongPasswordIsRefused() async throws {
        let password = "s3cret-" + UUID().uuidString
        let redis = try await ProtectedRedis(password: password)
        let good = RedisConfiguration(port: redis.port, poolSize: 2, connectAttempts: 1, username: "switchboard", password: password)

        let blocking = RedisClient(good)
        #expect(try await blocking.send(["SET", "k", "v"]).string == "OK")
        #expect(try await blocking.send(["GET", "k"]).string == "v")
        await blocking.shutdown()
        let loop = EventLoopRedisClient(good, group: MultiThreadedEventLoopGroup.singleton)
        #expect(try await loop.pipeline([["GET", "k"]]).first?.string == "v")
        await loop.shutdown()

        var wrong = good
        wrong.password = "not-the-password"
        for config in [wrong, RedisConfiguration(port: redis.port, poolSize: 1, connectAttempts: 1)] {
            let refused = RedisClient(config)
            do {
                let reply = try await refused.send(["GET", "k"])
                // Without AUTH, the default user is off: every command is refused.
                #expect(reply.string == nil, "answered without the password: \(reply)")
                if case .error(let message) = reply { #expect(message.contains("NOAUTH") || message.contains("WRONGPASS")) }
            } catch {
                #expect("\(error)".contains("AUTH as switchboard refused") || "\(error)".contains("NOAUTH"), "\(error)")
                #expect(!"\(error)".contains(password) && !"\(error)".contains("not-the-password"))
            }
            await refused.shutdown()
        }
        let wrongLoop = EventLoopRedisClient(wrong, group: MultiThreadedEventLoopGroup.singleton)
        await #expect(throws: RedisError.self) { try await wrongLoop.pipeline([["GET", "k"]]) }
        await wrongLoop.shutdown()
        await redis.stop()
    }
}
