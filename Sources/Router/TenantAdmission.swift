import Basics
import Synchronization

/// Per-tenant admission on the router: a token bucket per tenant (`ratePerSecond`, with one
/// second of burst), so a tenant that floods gets 429 with `Retry-After` while every other
/// tenant's calls go on being decided. Tenants are keys of resolved API keys only, and the
/// table is bounded (idle buckets are dropped when it fills).
final class TenantAdmission: Sendable {
    private struct Bucket { var tokens: Double; var at: UInt64 }
    private let buckets = Mutex([String: Bucket]())
    let ratePerSecond: Double
    let capacity: Int

    /// `ratePerSecond` 0 turns admission off.
    init(ratePerSecond: Int, capacity: Int = 10_000) {
        self.ratePerSecond = Double(max(0, ratePerSecond))
        self.capacity = max(1, capacity)
    }

    /// nil when the call may be decided; otherwise the seconds to wait before the next one.
    func admit(_ tenant: String, now: UInt64 = Monotonic.nanos()) -> Int? {
        guard ratePerSecond > 0 else { return nil }
        return buckets.withLock { buckets in
            var bucket = buckets[tenant] ?? Bucket(tokens: ratePerSecond, at: now)
            let elapsed = Double(now &- bucket.at) / 1e9
            bucket.tokens = min(ratePerSecond, bucket.tokens + max(0, elapsed) * ratePerSecond)
            bucket.at = now
            let admitted = bucket.tokens >= 1
            if admitted { bucket.tokens -= 1 }
            if buckets[tenant] == nil, buckets.count >= capacity {
                // Full: forget the buckets that have refilled (their tenants are not flooding).
                buckets = buckets.filter { $0.value.tokens + Double(now &- $0.value.at) / 1e9 * ratePerSecond < ratePerSecond }
                if buckets.count >= capacity { buckets.removeAll(keepingCapacity: true) }
            }
            buckets[tenant] = bucket
            return admitted ? nil : max(1, Int(((1 - bucket.tokens) / ratePerSecond).rounded(.up)))
        }
    }
}
