import Basics
import Foundation
import Postgres
import Synchronization

/// The console's users in Postgres: adding, listing, changing roles, removing, passwords and
/// sign-in with lockout. Removing a user or changing their role ends their tokens' old rights
/// at once (tokens are checked against the user on every request).
public struct UserStore: Sendable {
    public let postgres: PostgresClient
    public let hasher: PasswordHasher
    /// Failed sign-ins in a row before the account locks; each further failure doubles the lock.
    public static let failuresBeforeLock = 5
    /// The longest lock, in seconds.
    public static let longestLockSeconds = 3600

    public init(postgres: PostgresClient, hasher: PasswordHasher) {
        self.postgres = postgres
        self.hasher = hasher
    }

    private static let columns = """
        id, username, role, tenant_id, created_by, created_at::text AS created_at,
        CASE WHEN locked_until > now() THEN locked_until::text END AS locked_until, removed_at IS NOT NULL AS removed
        """

    private static func user(_ r: [String: String?]) -> User? {
        guard let id = (r["id"] ?? nil).flatMap({ Int($0) }), let name = r["username"] ?? nil,
              let role = (r["role"] ?? nil).flatMap(Role.init(rawValue:)) else { return nil }
        return User(id: id, username: name, role: role, tenant: r["tenant_id"] ?? nil, createdBy: (r["created_by"] ?? nil) ?? "",
                    createdAt: (r["created_at"] ?? nil) ?? "", lockedUntil: r["locked_until"] ?? nil, removed: (r["removed"] ?? nil) == "t")
    }

    /// Adds a user. Tenant-bound roles need a tenant, operators must have none; `password` nil
    /// makes a user who can only use API tokens.
    public func add(username: String, role: Role, tenant: String?, password: String?, by actor: Principal) async throws -> User {
        if let problem = User.problem(username) { throw AccessError(.invalidInput, problem) }
        if role.isTenantBound {
            guard let tenant else { throw AccessError(.invalidInput, "a \(role.rawValue) user belongs to a tenant (--tenant)") }
            if let problem = TenantID.problem(tenant) { throw AccessError(.invalidInput, problem) }
        } else if tenant != nil {
            throw AccessError(.invalidInput, "operators span tenants: give no tenant")
        }
        if let password, let problem = PasswordHasher.problem(password) { throw AccessError(.invalidInput, problem) }
        let hash = try await password.asyncMap { try await hasher.hash($0) }
        if let tenant { try await postgres.query("INSERT INTO tenants (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING", [tenant]) }
        let rows = try await postgres.query("""
            INSERT INTO users (username, role, tenant_id, password_hash, created_by) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (username) DO NOTHING RETURNING \(Self.columns)
            """, [username, role.rawValue, tenant, hash, actor.name])
        guard let user = rows.records.first.flatMap(Self.user) else { throw AccessError(.conflict, "user \(username) already exists") }
        return user
    }

    /// Users of one tenant (or every user), removed ones last.
    public func list(tenant: String?, includeRemoved: Bool = false) async throws -> [User] {
        try await postgres.query("""
            SELECT \(Self.columns) FROM users WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2 OR removed_at IS NULL)
            ORDER BY removed_at IS NOT NULL, tenant_id NULLS FIRST, username
            """, [tenant, includeRemoved ? "true" : "false"]).records.compactMap(Self.user)
    }

    /// One user by id or username (removed ones included).
    public func find(_ idOrName: String) async throws -> User {
        let id = Int(idOrName)
        let rows = try await postgres.query("SELECT \(Self.columns) FROM users WHERE id = $1 OR username = $2",
                                            [id.map(String.init), id == nil ? idOrName : nil])
        guard let user = rows.records.first.flatMap(Self.user) else { throw AccessError(.notFound, "no user \(idOrName)") }
        return user
    }

    /// The current user behind a session or token: nil when removed.
    public func active(id: Int) async throws -> User? {
        let rows = try await postgres.query("SELECT \(Self.columns) FROM users WHERE id = $1 AND removed_at IS NULL", [String(id)])
        return rows.records.first.flatMap(Self.user)
    }

    /// Changes a tenant user's role (between admin and read-only; operators stay operators).
    /// The last admin of a tenant cannot be demoted.
    public func setRole(_ user: User, to role: Role) async throws -> User {
        guard user.role.isTenantBound == role.isTenantBound else {
            throw AccessError(.invalidInput, "an operator cannot become a tenant user or the reverse; add a new user instead")
        }
        guard !user.removed else { throw AccessError(.conflict, "user \(user.username) was removed") }
        if user.role == .admin && role != .admin { try await requireAnotherAdmin(user) }
        let rows = try await postgres.query("UPDATE users SET role = $2 WHERE id = $1 RETURNING \(Self.columns)", [String(user.id), role.rawValue])
        guard let changed = rows.records.first.flatMap(Self.user) else { throw AccessError(.notFound, "no user \(user.id)") }
        return changed
    }

    /// Removes a user: they can no longer sign in, their tokens stop working. The last admin of
    /// a tenant cannot be removed.
    public func remove(_ user: User) async throws {
        guard !user.removed else { throw AccessError(.conflict, "user \(user.username) was already removed") }
        if user.role == .admin { try await requireAnotherAdmin(user) }
        try await postgres.query("UPDATE users SET removed_at = now() WHERE id = $1 AND removed_at IS NULL", [String(user.id)])
        try await postgres.query("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", [String(user.id)])
    }

    private func requireAnotherAdmin(_ user: User) async throws {
        let rows = try await postgres.query("""
            SELECT count(*) AS n FROM users WHERE tenant_id = $1 AND role = 'admin' AND removed_at IS NULL AND id <> $2
            """, [user.tenant, String(user.id)])
        guard let n = rows.value(0, "n").flatMap({ Int($0) }), n > 0 else {
            throw AccessError(.conflict, "\(user.username) is the last admin of \(user.tenant ?? "-"); add another admin first")
        }
    }

    /// Sets a new password (12–72 bytes) and clears any lock.
    public func setPassword(_ user: User, to password: String) async throws {
        if let problem = PasswordHasher.problem(password) { throw AccessError(.invalidInput, problem) }
        let hash = try await hasher.hash(password)
        try await postgres.query("UPDATE users SET password_hash = $2, failed_signins = 0, locked_until = NULL WHERE id = $1",
                                 [String(user.id), hash])
    }

    /// Checks a username and password. Wrong ones count towards a lock: after
    /// `failuresBeforeLock` in a row the account is locked for a minute, doubling with each
    /// further failure up to an hour; a locked account refuses even the right password.
    public func signIn(username: String, password: String) async throws -> User {
        let wrong = AccessError(.unauthenticated, "wrong username or password")
        let rows = try await postgres.query("""
            SELECT \(Self.columns), password_hash, GREATEST(0, ceil(extract(epoch FROM locked_until - now())))::bigint AS lock_left
            FROM users WHERE username = $1 AND removed_at IS NULL
            """, [username.lowercased()])
        guard let record = rows.records.first, let user = Self.user(record), let hash = record["password_hash"] ?? nil else {
            _ = try await hasher.verify(password, hash: try await decoyHash())
            throw wrong
        }
        if let left = (record["lock_left"] ?? nil).flatMap({ Int($0) }), left > 0 {
            throw AccessError(.locked, "too many failed sign-ins; try again in \(left) s", retryAfterSeconds: left)
        }
        guard try await hasher.verify(password, hash: hash) else {
            try await postgres.query("""
                UPDATE users SET failed_signins = failed_signins + 1,
                    locked_until = CASE WHEN failed_signins + 1 >= $2
                        THEN now() + make_interval(secs => LEAST($3, 60 * power(2, failed_signins + 1 - $2))) END
                WHERE id = $1
                """, [String(user.id), String(Self.failuresBeforeLock), String(Self.longestLockSeconds)])
            throw wrong
        }
        try await postgres.query("UPDATE users SET failed_signins = 0, locked_until = NULL WHERE id = $1 AND failed_signins > 0", [String(user.id)])
        return user
    }

    private func decoyHash() async throws -> String {
        if let hash = DecoyHash.value.withLock({ $0 }) { return hash }
        let hash = try await hasher.decoy()
        DecoyHash.value.withLock { $0 = hash }
        return hash
    }
}

/// The decoy hash, made once per process.
private enum DecoyHash {
    static let value = Mutex<String?>(nil)
}
