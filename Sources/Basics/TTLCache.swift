#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A small thread-safe cache whose entries expire after a fixed time and which never holds more
/// than `capacity` entries (when full, expired entries go first, then the whole cache is
/// cleared: a cache of secrets or lookups must not grow with what callers send).
public final class TTLCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry { let value: Value; let until: UInt64 }
    private let entries = Mutex([Key: Entry]())
    private let ttlNanos: UInt64
    /// The most entries kept at once.
    public let capacity: Int

    /// Entries live `ttlMs` milliseconds.
    public init(ttlMs: Int, capacity: Int = 10_000) {
        self.ttlNanos = UInt64(max(0, ttlMs)) * 1_000_000
        self.capacity = max(1, capacity)
    }

    /// The value stored for `key` if it has not expired; `.some(nil)` is a cached "none".
    public func value(for key: Key, now: UInt64 = Monotonic.nanos()) -> Value? {
        entries.withLock { entries in
            guard let hit = entries[key], hit.until > now else { return nil }
            return hit.value
        }
    }

    /// Stores `value` for `key` for the cache's lifetime from `now`.
    public func set(_ value: Value, for key: Key, now: UInt64 = Monotonic.nanos()) {
        entries.withLock { entries in
            if entries[key] == nil, entries.count >= capacity {
                entries = entries.filter { $0.value.until > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(value: value, until: now &+ ttlNanos)
        }
    }

    /// Forgets every entry.
    public func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    /// Entries held now (expired ones included until they are replaced).
    public var count: Int { entries.withLock { $0.count } }
}

/// The monotonic clock caches and timeouts measure with.
public enum Monotonic {
    /// Nanoseconds since an arbitrary point (boot); never goes back.
    public static func nanos() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
