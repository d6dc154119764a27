import Logging
import ServiceLifecycle
import UnixSignals

/// A long-lived process as its `<Process>+build.swift` assembles it: the services that run
/// together, and what to close once they have stopped. `App.swift` runs it with the process's
/// signals; a test builds the same app and runs it in process.
public struct ProcessApp: Sendable {
    public var services: [any Service]
    public let logger: Logger
    private let onStop: @Sendable () async -> Void

    public init(services: [any Service], logger: Logger, onStop: @escaping @Sendable () async -> Void = {}) {
        self.services = services
        self.logger = logger
        self.onStop = onStop
    }

    /// Runs every service until one of `signals` (SIGTERM, SIGINT: a graceful drain) or until the
    /// calling task is cancelled, then closes the app's clients.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: signals, logger: logger))
        do { try await group.run() } catch {
            await onStop()
            throw error
        }
        await onStop()
    }
}
