import Curl
import Foundation
import Testing

/// `ops/procfile-run`, the runner `ops/setup-and-run` uses: a process that exits is restarted
/// with backoff and counted, a crash loop is reported, the others keep serving, and SIGTERM
/// stops them all.
@Suite struct FleetSupervisorTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func aCrashingProcessIsRestartedWhileTheOthersKeepServing() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("sb-fleet-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let port = try TestServers.freePort()
        let procfile = work.appendingPathComponent("Procfile")
        try """
            crasher: echo crasher-up; sleep 0.2; exit 3
            steady: exec python3 -m http.server \(port) --bind 127.0.0.1
            """.write(to: procfile, atomically: true, encoding: .utf8)
        let state = work.appendingPathComponent("state").path
        let runner = Process()
        runner.executableURL = Self.repository.appendingPathComponent("ops/procfile-run")
        runner.arguments = [procfile.path]
        var env = ProcessInfo.processInfo.environment
        env["SB_FLEET_STATE"] = state
        env["SB_RESTART_MAX_BACKOFF_S"] = "1"
        runner.environment = env
        let logPath = work.appendingPathComponent("runner.log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        runner.standardOutput = log
        runner.standardError = log
        try runner.run()
        defer { if runner.isRunning { kill(runner.processIdentifier, SIGKILL) } }

        let http = HTTPClient()
        func restarts() -> Int { Int((try? String(contentsOfFile: state + "/crasher.restarts", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0 }
        func steadyAnswers() async -> Bool { (try? await http.send(HTTPRequest(url: "http://127.0.0.1:\(port)/")).status) == 200 }
        #expect(try await TestServers.eventually(10) { await steadyAnswers() })
        // The crasher comes back again and again, and the steady process answers all along.
        var answered = 0
        let crashLooped = try await TestServers.eventually(30) {
            if await steadyAnswers() { answered += 1 }
            return restarts() >= 5 && FileManager.default.fileExists(atPath: state + "/crasher.crash-loop")
        }
        #expect(crashLooped)
        #expect(answered > 0)
        #expect(await steadyAnswers())
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        #expect(text.components(separatedBy: "crasher | crasher-up").count - 1 >= 5)
        #expect(text.contains("CRASH LOOP: crasher"))

        // SIGTERM stops every process and the runner exits 0.
        kill(runner.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(15)
        while runner.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!runner.isRunning, "\((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
        if !runner.isRunning { #expect(runner.terminationStatus == 0) }
        #expect(try await TestServers.eventually(5) { !(await steadyAnswers()) })
        await http.shutdown()
    }
}
