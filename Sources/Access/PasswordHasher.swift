import Basics
import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing and checking of passwords, off the event loops (bcrypt is slow on purpose).
public struct PasswordHasher: Sendable {
    /// bcrypt's cost: log2 of its rounds (SB_BCRYPT_COST, default 12).
    public let cost: UInt8

    public init(cost: UInt8 = 12) {
        self.cost = min(max(cost, 4), 31)
    }

    /// The rule every new password meets: 12–72 bytes (bcrypt reads 72), no NUL.
    public static func problem(_ password: String) -> String? {
        let bytes = password.utf8.count
        if bytes < 12 { return "password must be at least 12 characters" }
        if bytes > 72 { return "password must be at most 72 bytes" }
        if password.utf8.contains(0) { return "password must not contain NUL" }
        return nil
    }

    /// The bcrypt hash of `password`.
    public func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. A password with NUL or over 72 bytes never matches.
    public func verify(_ password: String, hash: String) async throws -> Bool {
        guard password.utf8.count <= 72, !password.utf8.contains(0), hash.hasPrefix("$2") else { return false }
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// A hash nobody's password matches, checked for unknown users so that a wrong username
    /// takes as long as a wrong password.
    public func decoy() async throws -> String { try await hash(Hex.random(bytes: 24)) }
}

