import Basics
import Crypto
import Foundation
import Postgres

/// Per-user API tokens (`sb_<16 hex id>_<64 hex secret>`): scoped to a role no higher than
/// their user's and to the user's tenant, with an expiry, stored as the SHA-256 of the secret,
/// checked against Postgres on every request so a revocation (or the user's removal) takes
/// effect on the next one.
public struct APITokens: Sendable {
    public let postgres: PostgresClient
    /// The longest life a token may be given.
    public static let longestDays = 365

    public init(postgres: PostgresClient) { self.postgres = postgres }

    /// A token as listed (never its secret).
    public struct Token: Sendable, Codable, Equatable {
        public let id: String
        public let userId: Int
        public let username: String
        public let name: String
        public let role: Role
        public let tenant: String?
        public let createdAt: String
        public let expiresAt: String
        public let lastUsedAt: String?
        public let revoked: Bool
    }

    /// The two parts of a presented token, or nil when it is not one of ours.
    public static func parse(_ text: String) -> (id: String, secret: String)? {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "sb", parts[1].utf8.count == 16, parts[2].utf8.count == 64,
              (parts[1] + parts[2]).utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        return (String(parts[1]), String(parts[2]))
    }

    /// The stored form of a secret.
    public static func digest(_ secret: String) -> String { Hex.encode(SHA256.hash(data: Array(secret.utf8))) }

    /// Makes a token for `user` with `role` (default: the user's), valid `days` days (1–365).
    /// Returns the token text, shown once.
    public func create(for user: User, name: String, role: Role? = nil, days: Int = 90) async throws -> (token: Token, text: String) {
        let role = role ?? user.role
        guard !user.removed else { throw AccessError(.conflict, "user \(user.username) was removed") }
        guard user.role.mayGrant(role) else { throw AccessError(.forbidden, "a \(user.role.rawValue) user cannot have a \(role.rawValue) token") }
        guard (1...Self.longestDays).contains(days) else { throw AccessError(.invalidInput, "days must be 1-\(Self.longestDays)") }
        if let problem = UntrustedText.problem(name, maxBytes: 200) { throw AccessError(.invalidInput, "token name \(problem)") }
        let id = Hex.random(bytes: 8), secret = Hex.random(bytes: 32)
        try await postgres.query("""
            INSERT INTO api_tokens (id, user_id, name, role, tenant_id, secret_sha256, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))
            """, [id, String(user.id), name, role.rawValue, user.tenant, Self.digest(secret), String(days)])
        return (try await find(id), "sb_\(id)_\(secret)")
    }

    private static let columns = """
        t.id, t.user_id, u.username, t.name, t.role, t.tenant_id, t.created_at::text AS created_at, t.expires_at::text AS expires_at,
        t.last_used_at::text AS last_used_at, t.revoked_at IS NOT NULL AS revoked
        """

    private static func token(_ r: [String: String?]) -> Token? {
        guard let id = r["id"] ?? nil, let user = (r["user_id"] ?? nil).flatMap({ Int($0) }), let role = (r["role"] ?? nil).flatMap(Role.init(rawValue:))
        else { return nil }
        return Token(id: id, userId: user, username: (r["username"] ?? nil) ?? "", name: (r["name"] ?? nil) ?? "", role: role,
                     tenant: r["tenant_id"] ?? nil, createdAt: (r["created_at"] ?? nil) ?? "", expiresAt: (r["expires_at"] ?? nil) ?? "",
                     lastUsedAt: r["last_used_at"] ?? nil, revoked: (r["revoked"] ?? nil) == "t")
    }

    /// One token by id.
    public func find(_ id: String) async throws -> Token {
        guard id.utf8.count == 16, id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            throw AccessError(.invalidInput, "a token id is 16 hex digits")
        }
        let rows = try await postgres.query("SELECT \(Self.columns) FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1", [id])
        guard let token = rows.records.first.flatMap(Self.token) else { throw AccessError(.notFound, "no token \(id)") }
        return token
    }

    /// Tokens of one user, of one tenant's users, or all.
    public func list(userId: Int? = nil, tenant: String? = nil) async throws -> [Token] {
        try await postgres.query("""
            SELECT \(Self.columns) FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE ($1::bigint IS NULL OR t.user_id = $1) AND ($2::text IS NULL OR u.tenant_id = $2) ORDER BY t.created_at DESC
            """, [userId.map(String.init), tenant]).records.compactMap(Self.token)
    }

    /// Revokes a token: its next use is refused.
    public func revoke(_ id: String) async throws -> Token {
        let token = try await find(id)
        guard !token.revoked else { throw AccessError(.conflict, "token \(id) was already revoked") }
        try await postgres.query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", [id])
        return try await find(id)
    }

    /// The principal a presented token stands for; `unauthenticated` when it is unknown,
    /// wrong, revoked, expired or its user was removed.
    public func authenticate(_ text: String) async throws -> Principal {
        let refused = AccessError(.unauthenticated, "unknown, expired or revoked API token")
        guard let (id, secret) = Self.parse(text) else { throw refused }
        let rows = try await postgres.query("""
            SELECT t.secret_sha256, t.role, u.tenant_id, u.id AS user_id, u.username, u.role AS user_role,
                   t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute' AS stale
            FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.id = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND u.removed_at IS NULL
            """, [id])
        guard let r = rows.records.first, let stored = r["secret_sha256"] ?? nil,
              let role = (r["role"] ?? nil).flatMap(Role.init(rawValue:)), let userRole = (r["user_role"] ?? nil).flatMap(Role.init(rawValue:)),
              let userId = (r["user_id"] ?? nil).flatMap({ Int($0) }), let name = r["username"] ?? nil,
              Hex.constantTimeEqual(stored, Self.digest(secret)) else { throw refused }
        // A token never outranks its user today (the user may have been demoted since).
        let effective = userRole.mayGrant(role) ? role : userRole
        if (r["stale"] ?? nil) == "t" { try await postgres.query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1", [id]) }
        return Principal(userId: userId, name: name, role: effective, tenant: r["tenant_id"] ?? nil, via: .token, tokenId: id)
    }
}
