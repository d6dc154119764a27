import Foundation
import Curl

/// One of the project's executables started as a real OS process for a test, with its output in
/// a temp file (shown when a test fails) and helpers to send it signals.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let name: String
    let logPath: String

    init(_ executable: String, arguments: [String] = [], environment: [String: String]) throws {
        name = executable
        logPath = NSTemporaryDirectory() + "sb-\(executable)-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: TestServers.binDir + "/" + executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["SB_HTTP_PORT"] = "0"
        env["SB_LOG_LEVEL"] = "info"
        // The simulators of a test listen on 127.0.0.1 over http (tests of the refusal override these).
        env["SB_OUTBOUND_ALLOW_HTTP"] = "1"
        env["SB_OUTBOUND_ALLOW_HOSTS"] = "127.0.0.1,localhost"
        // Never the developer's own installation (.run/secrets.env of ops/setup-and-run).
        env["SB_SECRETS_FILE"] = "/nonexistent"
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func kill() { Foundation.kill(pid, SIGKILL); process.waitUntilExit() }
    func terminate() { Foundation.kill(pid, SIGTERM) }

    /// Waits for exit up to `seconds`; returns the exit status, nil if still running.
    func waitForExit(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning { Foundation.kill(pid, SIGKILL) }
    }
}

/// The counter simulator, started on a free port.
final class CounterServer: @unchecked Sendable {
    let simulator: SimulatorProcess
    var child: ChildProcess { simulator.child }
    var port: Int { simulator.port }

    init(limit: Int, windowMs: Int = 1000) async throws {
        simulator = try await SimulatorProcess("counter", ["--limit", String(limit), "--window-ms", String(windowMs)])
    }

    var url: String { "http://127.0.0.1:\(port)" }

    struct Stats: Decodable {
        let accepted: Int
        let rejected: Int
        let maxPerFixedWindow: Int
        let maxPerSlidingWindow: Int
        let maxClaimsPerSlidingWindow: Int
        let arrivalsMs: [Int]
    }

    func stats() async throws -> Stats {
        let client = HTTPClient(maxConnections: 1)
        defer { Task { await client.shutdown() } }
        let response = try await client.send(HTTPRequest(url: "\(url)/stats"))
        return try JSONDecoder().decode(Stats.self, from: Data(response.body))
    }
}

/// A simulator mode (gong, …) started on a free port.
final class SimulatorProcess: @unchecked Sendable {
    let child: ChildProcess
    let port: Int

    init(_ mode: String, _ arguments: [String], environment: [String: String] = [:]) async throws {
        let portFile = NSTemporaryDirectory() + "sb-port-\(UUID().uuidString)"
        child = try ChildProcess("simulator", arguments: [mode, "--port-file", portFile] + arguments, environment: environment)
        var found: Int?
        for _ in 0..<400 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let p = Int(text) { found = p; break }
            try await Task.sleep(for: .milliseconds(25))
        }
        guard let found else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "simulator \(mode) did not start: \(child.log)"]) }
        port = found
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// POSTs JSON to the simulator (e.g. /_sim/faults).
    func post(_ path: String, _ json: String) async throws {
        let client = HTTPClient(maxConnections: 1)
        _ = try await client.send(.json("POST", url + path, body: json))
        await client.shutdown()
    }
}
