import ArgumentParser

/// The `switchboard` command: operations on queues and the database (more domains add theirs).
@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Operate Switchboard: platform matrix and quotes, queues, dead jobs, limits, database.",
        discussion: "Connection settings come from the same environment variables as the processes (see README).",
        subcommands: [MatrixCommand.self, QuoteCommand.self, ImportCommand.self, RoutingCommand.self, QueueCommand.self, KeysCommand.self, QuarantineCommand.self,
                      UsersCommand.self, TokensCommand.self, AuditCommand.self, DatabaseCommand.self])
}
