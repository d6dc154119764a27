import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// A connection of a blocking C client (hiredis, libpq, libcurl) that a pool can hand out.
public protocol PooledConnection: AnyObject, Sendable {
    /// True once the connection can no longer be used; the pool then drops it.
    var isBroken: Bool { get }
}

/// A bounded pool of blocking connections, each used on the pool's own threads.
///
/// The C clients block, so no call ever runs on a SwiftNIO event loop or on Swift's
/// cooperative threads: `withConnection` borrows a connection and runs the body on a
/// dedicated `NIOThreadPool` with one thread per connection. New connections are opened
/// lazily, with exponential backoff between failed attempts.
public final class BlockingConnectionPool<Connection: PooledConnection>: Sendable {
    /// Connections kept at most, and threads doing the blocking I/O.
    public let size: Int
    private let connectAttempts: Int
    private let open: @Sendable () throws -> Connection
    private let threadPool: NIOThreadPool
    private let state: NIOLockedValueBox<State>
    private let logger: Logger

    private enum Step { case use(Connection), open, wait }

    private struct State {
        var idle: [Connection] = []
        var openCount = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var shutDown = false
    }

    /// Thrown once `shutdown()` has been called.
    public struct ShutDown: Error, CustomStringConvertible {
        public var description: String { "connection pool is shut down" }
    }

    /// Creates a pool of at most `size` connections made by `open`.
    public init(size: Int, connectAttempts: Int = 6, logger: Logger, open: @escaping @Sendable () throws -> Connection) {
        self.size = max(1, size)
        self.connectAttempts = max(1, connectAttempts)
        self.open = open
        self.logger = logger
        self.threadPool = NIOThreadPool(numberOfThreads: self.size)
        self.threadPool.start()
        self.state = NIOLockedValueBox(State())
    }

    /// Drops idle connections and stops the threads; later calls throw `ShutDown`.
    public func shutdown() async {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.shutDown = true
            s.openCount -= s.idle.count
            s.idle = []
            defer { s.waiters = [] }
            return s.waiters
        }
        waiters.forEach { $0.resume() }
        try? await threadPool.shutdownGracefully()
    }

    /// Borrows a connection and runs `body` with it on a pool thread.
    public func withConnection<R: Sendable>(_ body: @escaping @Sendable (Connection) throws -> R) async throws -> R {
        let connection = try await acquire()
        defer { release(connection) }
        return try await threadPool.runIfActive { try body(connection) }
    }

    /// Runs a blocking closure on a pool thread without a connection.
    public func run<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
        try await threadPool.runIfActive(body)
    }

    private func acquire() async throws -> Connection {
        while true {
            let step: Step = try state.withLockedValue { s in
                if s.shutDown { throw ShutDown() }
                if let c = s.idle.popLast() { return .use(c) }
                if s.openCount < size { s.openCount += 1; return .open }
                return .wait
            }
            switch step {
            case .use(let connection):
                return connection
            case .open:
                do {
                    return try await openWithBackoff()
                } catch {
                    wakeOne { $0.openCount -= 1 }
                    throw error
                }
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLockedValue { s -> Bool in
                        if !s.idle.isEmpty || s.openCount < size || s.shutDown { return true }
                        s.waiters.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    private func openWithBackoff() async throws -> Connection {
        var delayMs = 50
        var attempt = 1
        while true {
            do {
                return try await threadPool.runIfActive(open)
            } catch {
                if attempt >= connectAttempts { throw error }
                logger.warning("connect failed, retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(delayMs))
                delayMs = min(delayMs * 2, 2000)
                attempt += 1
            }
        }
    }

    private func release(_ connection: Connection) {
        wakeOne { s in
            if connection.isBroken || s.shutDown { s.openCount -= 1 } else { s.idle.append(connection) }
        }
    }

    private func wakeOne(_ change: (inout State) -> Void) {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            change(&s)
            return s.waiters.isEmpty ? nil : s.waiters.removeFirst()
        }
        waiter?.resume()
    }
}
