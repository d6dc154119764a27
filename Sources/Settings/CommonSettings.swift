import Curl
import Foundation
import Postgres
import Redis
import ServerTLS

/// The settings every Switchboard process shares: where Redis and Postgres are, the Redis key
/// prefix, and the address of the process's own health and metrics endpoint.
public struct CommonSettings: Sendable {
    public var redis: RedisConfiguration
    public var postgres: PostgresConfiguration
    /// Every Redis key starts with this (tests use their own).
    public var keyPrefix: String
    public var httpHost: String
    /// 0 picks a free port (logged at start).
    public var httpPort: Int
    public var logLevel: String
    /// The name this process reads Redis streams under: stable across restarts, so a restarted
    /// process picks up the entries it had read but not finished.
    public var consumerName: String
    /// What outbound HTTP may reach (customer-supplied URLs above all).
    public var outbound: OutboundPolicy
    /// The certificate and key this process's HTTP server presents; nil serves plain HTTP.
    public var tls: ServerTLS?

    /// Reads SB_REDIS_HOST (127.0.0.1), SB_REDIS_PORT (6379), SB_REDIS_POOL (8),
    /// SB_REDIS_TIMEOUT_MS (5000), SB_REDIS_USER / SB_REDIS_PASSWORD (unset: no AUTH), SB_KEY_PREFIX (sb), SB_POSTGRES_URL
    /// (postgresql://switchboard@127.0.0.1:5432/switchboard), SB_POSTGRES_POOL (4),
    /// SB_POSTGRES_SCHEMA (unset), SB_HTTP_HOST (127.0.0.1), SB_HTTP_PORT (`defaultPort`),
    /// SB_LOG_LEVEL (info), SB_CONSUMER_NAME (`<host>-<SB_HTTP_PORT>`, or `<host>-pid<pid>` on port 0),
    /// SB_OUTBOUND_ALLOW_HTTP (0: https only), SB_OUTBOUND_ALLOW_HOSTS (none: comma-separated
    /// host names or addresses that may resolve to loopback or private addresses, such as the
    /// demo's simulators on 127.0.0.1), SB_TLS_CERT_FILE / SB_TLS_KEY_FILE (unset: plain HTTP;
    /// set: HTTPS only), SB_TLS_CA_FILE (unset: the system's CAs only; set: outbound TLS also
    /// trusts this CA, such as the local one `ops/setup-and-run` makes).
    public init(_ env: EnvironmentVariables, defaultPort: Int) throws {
        redis = RedisConfiguration(
            host: env.string("SB_REDIS_HOST", default: "127.0.0.1"),
            port: try env.int("SB_REDIS_PORT", default: 6379, range: 1...65535),
            poolSize: try env.int("SB_REDIS_POOL", default: 8, range: 1...256),
            commandTimeoutMs: try env.int("SB_REDIS_TIMEOUT_MS", default: 5000, range: 10...600_000))
        redis.username = env.optional("SB_REDIS_USER")
        redis.password = env.optional("SB_REDIS_PASSWORD")
        if redis.username != nil, redis.password == nil { throw SettingsError("SB_REDIS_USER is set but SB_REDIS_PASSWORD is not") }
        postgres = PostgresConfiguration(
            url: env.string("SB_POSTGRES_URL", default: "postgresql://switchboard@127.0.0.1:5432/switchboard"),
            poolSize: try env.int("SB_POSTGRES_POOL", default: 4, range: 1...256),
            schema: env.optional("SB_POSTGRES_SCHEMA"))
        keyPrefix = env.string("SB_KEY_PREFIX", default: "sb")
        httpHost = env.string("SB_HTTP_HOST", default: "127.0.0.1")
        httpPort = try env.int("SB_HTTP_PORT", default: defaultPort, range: 0...65535)
        logLevel = env.string("SB_LOG_LEVEL", default: "info")
        // One process per port on a host; with port 0 (any free port) the pid tells processes apart.
        let instance = httpPort == 0 ? "pid\(ProcessInfo.processInfo.processIdentifier)" : String(httpPort)
        consumerName = env.string("SB_CONSUMER_NAME", default: "\(ProcessInfo.processInfo.hostName)-\(instance)")
        let allowHTTP = env.string("SB_OUTBOUND_ALLOW_HTTP", default: "0")
        guard ["0", "1", "true", "false"].contains(allowHTTP) else { throw SettingsError("SB_OUTBOUND_ALLOW_HTTP must be 0 or 1") }
        outbound = OutboundPolicy(allowHTTP: allowHTTP == "1" || allowHTTP == "true",
                                  allowedHosts: Set(env.string("SB_OUTBOUND_ALLOW_HOSTS", default: "").split(separator: ",")
                                      .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }),
                                  caFile: env.optional("SB_TLS_CA_FILE"))
        if let caFile = outbound.caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw SettingsError("SB_TLS_CA_FILE=\(caFile) is not a readable file")
        }
        do { tls = try ServerTLS.fromEnvironment(env.values) } catch { throw SettingsError("\(error)") }
        guard !consumerName.isEmpty, consumerName.utf8.count <= 200, !consumerName.contains(where: { $0.isWhitespace }) else {
            throw SettingsError("SB_CONSUMER_NAME must be 1-200 characters without spaces")
        }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else {
            throw SettingsError("SB_LOG_LEVEL=\(logLevel) must be one of trace, debug, info, notice, warning, error, critical")
        }
    }
}
