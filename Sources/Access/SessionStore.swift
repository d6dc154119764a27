import Basics
import Crypto
import Foundation
import Redis

/// Console sign-in sessions in Redis: a random session id in an `HttpOnly; Secure;
/// SameSite=Strict` cookie, stored only as its SHA-256, expiring after `idleSeconds` without use
/// (each use renews it) and after `longestSeconds` whatever happens. Each session carries a CSRF
/// token that every changing request must echo. Ending a user's sessions (on removal, role or
/// password change) is one call.
public struct SessionStore: Sendable {
    public let redis: RedisClient
    public let prefix: String
    public let idleSeconds: Int
    public let longestSeconds: Int

    /// The cookie's name.
    public static let cookieName = "sb_session"

    public init(redis: RedisClient, prefix: String, idleSeconds: Int = 1800, longestSeconds: Int = 43_200) {
        self.redis = redis
        self.prefix = prefix
        self.idleSeconds = max(60, idleSeconds)
        self.longestSeconds = max(self.idleSeconds, longestSeconds)
    }

    /// A session as the console reads it.
    public struct Session: Sendable, Equatable {
        public let userId: Int
        public let csrfToken: String
    }

    private func key(_ sessionId: String) -> String { "\(prefix):session:\(Hex.encode(SHA256.hash(data: Array(sessionId.utf8))))" }
    private func userKey(_ userId: Int) -> String { "\(prefix):sessions:user:\(userId)" }

    /// Starts a session for `userId`; returns the cookie value and the CSRF token.
    public func start(userId: Int) async throws -> (sessionId: String, csrfToken: String) {
        let id = Hex.random(bytes: 32), csrf = Hex.random(bytes: 32)
        let key = key(id)
        let created = Int(Date().timeIntervalSince1970)
        try await redis.send(["HSET", key, "user", String(userId), "csrf", csrf, "created", String(created)])
        try await redis.send(["EXPIRE", key, String(idleSeconds)])
        try await redis.send(["SADD", userKey(userId), key])
        try await redis.send(["EXPIRE", userKey(userId), String(longestSeconds)])
        return (id, csrf)
    }

    /// The live session behind a cookie value, renewed; nil when unknown or expired.
    public func resume(_ sessionId: String) async throws -> Session? {
        guard sessionId.utf8.count == 64 else { return nil }
        let key = key(sessionId)
        let fields = try await redis.send(["HGETALL", key]).hash
        guard let user = fields["user"].flatMap({ Int($0) }), let csrf = fields["csrf"],
              let created = fields["created"].flatMap({ Int($0) }) else { return nil }
        let age = Int(Date().timeIntervalSince1970) - created
        guard age < longestSeconds else {
            try await redis.send(["DEL", key])
            return nil
        }
        try await redis.send(["EXPIRE", key, String(min(idleSeconds, longestSeconds - age))])
        return Session(userId: user, csrfToken: csrf)
    }

    /// Ends one session.
    public func end(_ sessionId: String) async throws {
        try await redis.send(["DEL", key(sessionId)])
    }

    /// Ends every session of a user.
    public func endAll(userId: Int) async throws {
        let keys = try await redis.send(["SMEMBERS", userKey(userId)]).array?.compactMap(\.string) ?? []
        try await redis.send(["DEL", userKey(userId)] + keys)
    }
}
