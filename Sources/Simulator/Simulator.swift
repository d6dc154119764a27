import ArgumentParser

/// The `simulator` command: local stand-ins for the external services Switchboard talks to,
/// written from their public documentation. Each mode is one HTTP server.
@main
struct Simulator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulator",
        abstract: "Run a simulated external service on a loopback port.",
        subcommands: [GongCommand.self, FathomCommand.self, GrainCommand.self, SlackCommand.self, CounterCommand.self,
                      ZendeskTalkCommand.self, DialfireCommand.self, SMSCommand.self, SMTPCommand.self, BrazeCommand.self, VoiceCommand.self])
}
