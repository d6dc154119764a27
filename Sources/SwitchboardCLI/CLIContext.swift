import Basics
import ArgumentParser
import Foundation
import Postgres
import Queue
import Redis
import Settings

/// Options every command shares, and the clients built from them.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON for scripts instead of text for people.")
    var json = false

    /// The process environment, plus the installation's secrets file (SB_SECRETS_FILE, default
    /// .run/secrets.env, written by ops/setup-and-run) for what the environment does not set.
    func environment() -> EnvironmentVariables {
        var values = ProcessInfo.processInfo.environment
        let path = values["SB_SECRETS_FILE"] ?? ".run/secrets.env"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2, values[String(parts[0])] == nil { values[String(parts[0])] = String(parts[1]) }
            }
        }
        return EnvironmentVariables(values)
    }

    /// Reads the environment into settings; a bad variable becomes a validation error.
    func settings() throws -> CommonSettings {
        do { return try CommonSettings(environment(), defaultPort: 0) } catch { throw ValidationError("\(error)") }
    }

    /// Prints a value as pretty JSON.
    func printJSON(_ value: some Encodable) throws { print(try JSONEncoder.sortedText(value, pretty: true)) }
}

/// Runs `body` with a Redis client, closing it afterwards; queue errors become clean messages.
func withRedis<R>(_ options: GlobalOptions, _ body: (RedisClient, CommonSettings) async throws -> R) async throws -> R {
    let settings = try options.settings()
    var redisConfig = settings.redis
    redisConfig.connectAttempts = 2
    let redis = RedisClient(redisConfig)
    do {
        let result = try await body(redis, settings)
        await redis.shutdown()
        return result
    } catch let error as QueueError {
        await redis.shutdown()
        throw ValidationError(error.message)
    } catch let error as RedisError {
        await redis.shutdown()
        throw CLIFailure("cannot talk to Redis at \(redisConfig.host):\(redisConfig.port): \(error.message)")
    } catch {
        await redis.shutdown()
        throw error
    }
}

/// A runtime failure the CLI reports as one line on stderr, exiting 1.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
