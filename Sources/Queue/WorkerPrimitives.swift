import NIOConcurrencyHelpers

/// Counts free handler slots; the fetch loop waits here when all are busy.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }
    private let state: NIOLockedValueBox<State>

    init(_ count: Int) { state = NIOLockedValueBox(State(free: count)) }

    /// Waits until at least one slot is free (or `close` was called); returns the free count.
    func waitForFree() async -> Int {
        while true {
            let (free, closed) = state.withLockedValue { ($0.free, $0.closed) }
            if closed { return 0 }
            if free > 0 { return free }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLockedValue { s -> Bool in
                    if s.free > 0 || s.closed { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        }
    }

    func take(_ n: Int) { state.withLockedValue { $0.free -= n } }

    func put() {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            s.free += 1
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
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
