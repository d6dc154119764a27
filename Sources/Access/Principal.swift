/// Who is asking: a signed-in user, the holder of one of a user's API tokens, or the local
/// `switchboard` CLI run by someone holding the installation's database credentials.
public struct Principal: Sendable, Equatable, Codable {
    /// How the principal proved who it is.
    public enum Via: String, Sendable, Codable { case session, token, cli }

    /// The user's id (0 for the CLI).
    public let userId: Int
    /// The name the audit log shows: the username, or `cli:<login>`.
    public let name: String
    /// The role in effect (for a token: the token's role, never more than its user's).
    public let role: Role
    /// The tenant a tenant-bound role belongs to; nil for operators and the CLI.
    public let tenant: String?
    public let via: Via
    /// The token's id when `via == .token`.
    public let tokenId: String?

    public init(userId: Int, name: String, role: Role, tenant: String?, via: Via, tokenId: String? = nil) {
        self.userId = userId
        self.name = name
        self.role = role
        self.tenant = tenant
        self.via = via
        self.tokenId = tokenId
    }

    /// The local CLI: it holds the database credentials and the master key, so it can do what
    /// any role can; every change it makes is still audited under the operating-system login.
    public static func cli(login: String) -> Principal {
        Principal(userId: 0, name: "cli:\(login.isEmpty ? "unknown" : String(login.prefix(64)))", role: .operator, tenant: nil, via: .cli)
    }
}
