import Access
import ArgumentParser
import Basics
import Foundation
import Postgres
import Routing
import Settings
import Vault

/// Who the CLI acts as, and the record of what it changed. The CLI holds the installation's
/// database credentials and master key, so `AccessPolicy` lets it do anything; every change it
/// makes still lands in the user action log under the operating-system login.
enum CLIIdentity {
    /// `cli:<login>`: the operating-system account the command runs as (its effective user id's
    /// entry in the password database; `uid<n>` without one), never an environment variable,
    /// which whoever runs the command could set to anything.
    static var principal: Principal {
        .cli(login: login)
    }

    static var login: String {
        let uid = geteuid()
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name {
            let text = String(cString: name)
            if !text.isEmpty { return text }
        }
        return "uid\(uid)"
    }

    /// Records one change made from the CLI.
    static func record(_ postgres: PostgresClient, _ action: String, tenant: String?, target: String = "", detail: [String: String] = [:]) async throws {
        let args = CommandLine.arguments.dropFirst().prefix(3).joined(separator: " ")
        try await UserActionLog(postgres: postgres).record(principal, action, tenant: tenant, target: target, detail: detail.merging(["command": args]) { a, _ in a },
                                                           source: "cli")
    }
}

/// Runs `body` with the access stores on the environment's Postgres and Redis; access errors
/// become clean messages.
func withAccess<R>(_ options: GlobalOptions, _ body: (AccessStores) async throws -> R) async throws -> R {
    let settings = try options.settings()
    let postgres = PostgresClient(settings.postgres)
    defer { Task { await postgres.shutdown() } }
    let cost = try options.environment().int("SB_BCRYPT_COST", default: 12, range: 4...16)
    return try await withRedis(options) { redis, settings in
        do {
            return try await body(AccessStores(postgres: postgres, users: UserStore(postgres: postgres, hasher: PasswordHasher(cost: UInt8(cost))),
                                               tokens: APITokens(postgres: postgres), sessions: SessionStore(redis: redis, prefix: settings.keyPrefix),
                                               actions: UserActionLog(postgres: postgres)))
        } catch let error as AccessError {
            throw ValidationError(error.message)
        } catch let error as PostgresError {
            throw CLIFailure("database: \(error)")
        }
    }
}

/// The stores `users`, `tokens` and `audit` commands use.
struct AccessStores {
    let postgres: PostgresClient
    let users: UserStore
    let tokens: APITokens
    let sessions: SessionStore
    let actions: UserActionLog
}

/// Reads a password from a file (first line) or, without one, makes a strong one.
private func password(file: String?) throws -> (text: String, generated: Bool) {
    guard let file else {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return (String((0..<20).map { _ in alphabet.randomElement(using: &generator)! }), true)
    }
    // "-" (or /dev/stdin) reads standard input: a pipe, which String(contentsOfFile:) cannot read.
    let data = file == "-" || file == "/dev/stdin" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
    guard let data, let text = String(data: data, encoding: .utf8) else { throw ValidationError("cannot read \(file)") }
    return (String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""), false)
}

/// `switchboard users`: the console's users.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Console users: add, list, change role, remove, set password.",
        subcommands: [Add.self, List.self, SetRole.self, Remove.self, Password.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user; prints the password when it was generated (shown once).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Username (an email address fits).") var username: String
        @Option(help: "admin, read-only (both need --tenant) or operator.") var role: String
        @Option(help: "The tenant of an admin or read-only user.") var tenant: String?
        @Option(help: "File whose first line is the password, - for standard input (default: generate one).") var passwordFile: String?
        @Flag(help: "Do nothing when the user already exists (for setup scripts).") var ifMissing = false

        func run() async throws {
            let role = try Role.parse(role)
            let pw = try password(file: passwordFile)
            let made: User? = try await withAccess(options) { stores in
                if ifMissing, (try? await stores.users.find(username)) != nil { return nil }
                let user = try await stores.users.add(username: username, role: role, tenant: tenant, password: pw.text, by: CLIIdentity.principal)
                try await CLIIdentity.record(stores.postgres, "user.add", tenant: user.tenant, target: user.username, detail: ["role": role.rawValue])
                return user
            }
            guard let made else { return print("user \(username) already exists") }
            if options.json {
                struct Added: Encodable { let user: User; let password: String? }
                return try options.printJSON(Added(user: made, password: pw.generated ? pw.text : nil))
            }
            print("added \(made.username) (\(made.role.rawValue)\(made.tenant.map { " of \($0)" } ?? ""))")
            if pw.generated { print("password: \(pw.text)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Users, of one tenant or all.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this tenant's users.") var tenant: String?
        @Flag(help: "Include removed users.") var all = false

        func run() async throws {
            let users = try await withAccess(options) { try await $0.users.list(tenant: tenant, includeRemoved: all) }
            if options.json { return try options.printJSON(users) }
            for u in users {
                print("\(u.id)  \(u.username)  \(u.role.rawValue)  \(u.tenant ?? "(all tenants)")\(u.lockedUntil.map { "  locked until \($0)" } ?? "")\(u.removed ? "  removed" : "")")
            }
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "role", abstract: "Change a tenant user's role (admin or read-only).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Username or id.") var user: String
        @Argument(help: "admin or read-only.") var role: String

        func run() async throws {
            let role = try Role.parse(role)
            let changed = try await withAccess(options) { stores in
                let changed = try await stores.users.setRole(try await stores.users.find(user), to: role)
                try await stores.sessions.endAll(userId: changed.id)
                try await CLIIdentity.record(stores.postgres, "user.role", tenant: changed.tenant, target: changed.username, detail: ["role": role.rawValue])
                return changed
            }
            if options.json { return try options.printJSON(changed) }
            print("\(changed.username) is now \(changed.role.rawValue)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user: sign-in, sessions and tokens stop at once.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Username or id.") var user: String

        func run() async throws {
            let removed = try await withAccess(options) { stores in
                let found = try await stores.users.find(user)
                try await stores.users.remove(found)
                try await stores.sessions.endAll(userId: found.id)
                try await CLIIdentity.record(stores.postgres, "user.remove", tenant: found.tenant, target: found.username)
                return found
            }
            if options.json { return try options.printJSON(["removed": removed.username]) }
            print("removed \(removed.username)")
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password (and unlock them); prints it when generated.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Username or id.") var user: String
        @Option(help: "File whose first line is the password (default: generate one).") var passwordFile: String?

        func run() async throws {
            let pw = try password(file: passwordFile)
            let found = try await withAccess(options) { stores in
                let found = try await stores.users.find(user)
                try await stores.users.setPassword(found, to: pw.text)
                try await stores.sessions.endAll(userId: found.id)
                try await CLIIdentity.record(stores.postgres, "password.set", tenant: found.tenant, target: found.username)
                return found
            }
            if options.json { return try options.printJSON(["user": found.username, "password": pw.generated ? pw.text : nil]) }
            print("password of \(found.username) set\(pw.generated ? ": \(pw.text)" : "")")
        }
    }
}

/// `switchboard tokens`: per-user API tokens.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Per-user API tokens: create (shown once), list, revoke.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an API token for a user; prints it once.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Username or id.") var user: String
        @Option(help: "What the token is for.") var name: String
        @Option(help: "The token's role (default: the user's; never more).") var role: String?
        @Option(help: "Days until it expires (1-365).") var days = 90

        func run() async throws {
            let role = try role.map(Role.parse)
            let made = try await withAccess(options) { stores in
                let made = try await stores.tokens.create(for: try await stores.users.find(user), name: name, role: role, days: days)
                try await CLIIdentity.record(stores.postgres, "token.create", tenant: made.token.tenant, target: made.token.id,
                                             detail: ["user": made.token.username, "role": made.token.role.rawValue])
                return made
            }
            if options.json {
                struct Created: Encodable { let token: APITokens.Token; let secret: String }
                return try options.printJSON(Created(token: made.token, secret: made.text))
            }
            print(made.text)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tokens of one user, one tenant, or all (never their secrets).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Username or id.") var user: String?
        @Option(help: "Tenant id.") var tenant: String?

        func run() async throws {
            let tokens = try await withAccess(options) { stores in
                let userId = try await user.asyncMap { try await stores.users.find($0).id }
                return try await stores.tokens.list(userId: userId, tenant: tenant)
            }
            if options.json { return try options.printJSON(tokens) }
            for t in tokens {
                print("\(t.id)  \(t.username)  \(t.role.rawValue)  \(t.name)  expires \(t.expiresAt)\(t.revoked ? "  revoked" : "")\(t.lastUsedAt.map { "  used \($0)" } ?? "")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: its next use is refused.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The token's id (16 hex digits, from `tokens list`).") var id: String

        func run() async throws {
            let token = try await withAccess(options) { stores in
                let token = try await stores.tokens.revoke(id)
                try await CLIIdentity.record(stores.postgres, "token.revoke", tenant: token.tenant, target: token.id, detail: ["user": token.username])
                return token
            }
            if options.json { return try options.printJSON(token) }
            print("revoked \(token.id) (\(token.username), \(token.name))")
        }
    }
}

/// `switchboard audit`: checks and searches of the user action log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The audit trail: verify its hash chains, search user actions, retention.",
        subcommands: [Verify.self, Actions.self, Retention.self, Retain.self, MigrateLegacy.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the hash chains of the routing audit and the user action log (one tenant, or all); names the first row that does not match. Exits 1 on a break.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this tenant's chains (default: every chain).") var tenant: String?

        func run() async throws {
            let actions = try await withAccess(options) { try await $0.actions.verify(tenant: tenant, all: tenant == nil) }
            let routing = try await RoutingCommand.withAudit(options) { try await $0.verify(tenant: tenant) }
            struct Report: Encodable { let routing: [AuditChain.Verification]; let userActions: [AuditChain.Verification] }
            if options.json { try options.printJSON(Report(routing: routing, userActions: actions)) } else {
                for (label, results) in [("routing audit", routing), ("user actions", actions)] {
                    for r in results {
                        let name = "\(label) of \(r.tenant ?? "(installation)")"
                        if let b = r.firstBreak { print("\(name): BROKEN at position \(b.seq) (row id \(b.id)): \(b.reason); \(r.rows) rows before it match") }
                        else { print("\(name): \(r.rows) rows, chain intact") }
                    }
                }
            }
            if (routing + actions).contains(where: { $0.firstBreak != nil }) { throw ExitCode(1) }
        }
    }

    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set (or show) how many days a tenant's audit is kept: at least 90 (FR58); 365 by default.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "Days to keep (90-36500); omit to show.") var days: Int?

        func validate() throws {
            if let problem = TenantID.problem(tenant) { throw ValidationError(problem) }
            if let days, !(90...36_500).contains(days) { throw ValidationError("--days must be 90-36500: the audit is kept at least 90 days") }
        }

        func run() async throws {
            let kept: Int = try await withAccess(options) { stores in
                if let days {
                    try await stores.postgres.query("""
                        INSERT INTO audit_retention (tenant_id, days, set_by) VALUES ($1, $2, $3)
                        ON CONFLICT (tenant_id) DO UPDATE SET days = EXCLUDED.days, set_by = EXCLUDED.set_by, set_at = now()
                        """, [tenant, String(days), CLIIdentity.principal.name])
                    try await CLIIdentity.record(stores.postgres, "audit.retention", tenant: tenant, detail: ["days": String(days)])
                }
                return try await stores.postgres.query("SELECT days FROM audit_retention WHERE tenant_id = $1", [tenant]).value(0, "days").flatMap { Int($0) } ?? 365
            }
            if options.json { return try options.printJSON(["tenant": tenant, "days": String(kept)]) }
            print("the audit of \(tenant) is kept \(kept) days")
        }
    }

    struct Retain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove audit rows past their tenant's retention now (the scheduler runs this daily); prints how many went.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let removed = try await withAccess(options) { stores in
                try await AuditRetention(postgres: stores.postgres).run()
            }
            if options.json { return try options.printJSON(["removed": removed]) }
            print("removed \(removed) audit row(s) past retention")
        }
    }

    struct MigrateLegacy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate-legacy",
            abstract: "Move the routing audit rows written before migration 12 into the chained, sealed table (idempotent; ops/setup-and-run runs it).")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let moved = try await RoutingCommand.withAudit(options) { try await $0.migrateLegacy() }
            if options.json { return try options.printJSON(["moved": moved]) }
            if moved > 0 { print("moved \(moved) legacy audit row(s)") }
        }
    }

    struct Actions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "User actions of a tenant, newest first, by time, actor and action.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id (omit for actions about no tenant).") var tenant: String?
        @Option(help: "From (ISO 8601).") var from: String?
        @Option(help: "To (ISO 8601).") var to: String?
        @Option(help: "Only this actor (a username, or cli:<login>).") var actor: String?
        @Option(help: "Only this action (e.g. signin, rules.save, user.add).") var action: String?
        @Option(help: "Continue after this id (the 'next' of a previous page).") var cursor: Int?
        @Option(help: "Most rows (1-1000).") var limit = 100

        func run() async throws {
            let iso = ISO8601DateFormatter()
            func date(_ text: String?, _ name: String) throws -> Date? {
                guard let text else { return nil }
                guard let d = iso.date(from: text) else { throw ValidationError("--\(name) must be ISO 8601 like 2026-11-22T08:00:00Z") }
                return d
            }
            let query = UserActionLog.Query(tenant: tenant, from: try date(from, "from"), to: try date(to, "to"), actor: actor, action: action,
                                            before: cursor, limit: limit)
            let page = try await withAccess(options) { try await $0.actions.search(query) }
            if options.json { return try options.printJSON(page) }
            for e in page.entries {
                print("\(e.id)  \(e.at)  \(e.actor)  \(e.action)  \(e.outcome.rawValue)  \(e.target)  \(e.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
            }
            if let next = page.next { print("more: --cursor \(next)") }
        }
    }
}
