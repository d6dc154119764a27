import Basics
import Foundation

/// A console user as the API and CLI show it (never its password hash).
public struct User: Sendable, Codable, Equatable {
    public let id: Int
    public let username: String
    public let role: Role
    public let tenant: String?
    public let createdBy: String
    public let createdAt: String
    /// Until when sign-in is refused after repeated failures; nil when not locked.
    public let lockedUntil: String?
    public let removed: Bool

    /// The rule usernames follow: 3–254 lower-case letters, digits, `.`, `_`, `@`, `+`, `-`
    /// (an email address fits), starting with a letter or digit.
    public static func problem(_ username: String) -> String? {
        let bytes = Array(username.utf8)
        let allowed = Set(".-_@+".utf8)
        let ok = (3...254).contains(bytes.count)
            && bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || allowed.contains($0) }
            && !allowed.contains(bytes[0])
        return ok ? nil : "username must be 3-254 lower-case letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit"
    }

    /// The principal this user is when signed in.
    public func principal(via: Principal.Via) -> Principal {
        Principal(userId: id, name: username, role: role, tenant: tenant, via: via)
    }
}
