import Foundation
import NIOConcurrencyHelpers

/// Counts requests in fixed windows, the way vendor APIs count, and keeps every arrival time.
final class RequestCounter: Sendable {
    struct Snapshot: Codable {
        let accepted: Int
        let rejected: Int
        /// Accepted requests in the busiest fixed window.
        let maxPerFixedWindow: Int
        /// Most arrivals (accepted) within any sliding window.
        let maxPerSlidingWindow: Int
        /// Most claims (X-Claimed-At, Redis time) within any sliding window.
        let maxClaimsPerSlidingWindow: Int
        let firstMs: Int?
        let lastMs: Int?
        let arrivalsMs: [Int]
        /// When each accepted request was claimed from the queue (X-Claimed-At, Redis time).
        let claimsMs: [Int]
    }

    private struct State {
        var window = -1
        var inWindow = 0
        var accepted: [Int] = []
        var claims: [Int] = []
        var rejected = 0
        var maxPerWindow = 0
    }

    let limit: Int
    let windowMs: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int, windowMs: Int) {
        self.limit = limit
        self.windowMs = windowMs
    }

    /// Counts one request; returns seconds to wait when it is over the limit, nil when accepted.
    func hit(claimedAtMs: Int?) -> Int? {
        let now = Int(Date().timeIntervalSince1970 * 1000)
        return state.withLockedValue { s in
            let window = now / windowMs
            if window != s.window { s.window = window; s.inWindow = 0 }
            if s.inWindow >= limit {
                s.rejected += 1
                let msLeft = (window + 1) * windowMs - now
                return max(1, (msLeft + 999) / 1000)
            }
            s.inWindow += 1
            s.maxPerWindow = max(s.maxPerWindow, s.inWindow)
            s.accepted.append(now)
            if let claimedAtMs { s.claims.append(claimedAtMs) }
            return nil
        }
    }

    func reset() { state.withLockedValue { $0 = State() } }

    func snapshot() -> Snapshot {
        state.withLockedValue { s in
            Snapshot(accepted: s.accepted.count, rejected: s.rejected, maxPerFixedWindow: s.maxPerWindow,
                     maxPerSlidingWindow: Self.maxInSlidingWindow(s.accepted, windowMs),
                     maxClaimsPerSlidingWindow: Self.maxInSlidingWindow(s.claims.sorted(), windowMs),
                     firstMs: s.accepted.first, lastMs: s.accepted.last, arrivalsMs: s.accepted, claimsMs: s.claims)
        }
    }

    /// The most timestamps (sorted) that fit in any half-open window of `windowMs`.
    static func maxInSlidingWindow(_ times: [Int], _ windowMs: Int) -> Int {
        var best = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= windowMs { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }
}
