import NIOConcurrencyHelpers

/// A many-producer, one-consumer buffer: the consumer takes everything pending at once.
final class Mailbox<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }
    private let state = NIOLockedValueBox(State())

    init() {}

    func push(_ item: Item) {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            s.items.append(item)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Waits for items and takes them all; returns [] only once closed and empty.
    func takeAll() async -> [Item] {
        while true {
            let (items, closed) = state.withLockedValue { s -> ([Item], Bool) in
                defer { s.items = [] }
                return (s.items, s.closed)
            }
            if !items.isEmpty || closed { return items }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLockedValue { s -> Bool in
                    if !s.items.isEmpty || s.closed { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        }
    }

    func close() {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}

/// A flag set once (shutdown requested) that loops poll between steps.
final class StopFlag: Sendable {
    private let flag = NIOLockedValueBox(false)
    init() {}
    var isSet: Bool { flag.withLockedValue { $0 } }
    func set() { flag.withLockedValue { $0 = true } }
}

extension Duration {
    /// The duration in nanoseconds, as a floating-point number (for moving averages).
    var nanoseconds: Double { Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9 }
}
