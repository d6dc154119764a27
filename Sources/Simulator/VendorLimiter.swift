import Foundation
import NIOConcurrencyHelpers

/// A vendor's rate limit as vendors count it: fixed windows (per second, per day, …), all at once.
/// Also holds the fault switches every simulator has (5xx bursts, slow answers, an outage).
final class VendorLimiter: Sendable {
    struct Window: Sendable {
        let limit: Int
        let ms: Int
    }

    struct Faults: Codable, Sendable {
        /// The next N requests answer 503.
        var failNext: Int? = nil
        /// Every request waits this long before answering.
        var latencyMs: Int? = nil
        /// While true every request answers 503.
        var outage: Bool? = nil
        /// The next N calls asked for leave their data out of the answer (a partial failure).
        var dropRecords: Int? = nil
        /// The next `hostileNext` requests (default: all while set) get this hostile answer:
        /// `retry-after-huge` (429 with Retry-After 1e16), `reset-nan` (429 with NaN reset headers),
        /// `json-nul` (200 whose strings hold \u0000 and numbers 1e20), `invalid-utf8`, `malformed-json`,
        /// `huge-body` (10 MB), `absurd-headers` (a 100 KB header), `slow-drip` (a body one byte per 100 ms).
        var hostile: String? = nil
        var hostileNext: Int? = nil
        /// While true the account's credentials are refused (401), as after the customer revoked the key.
        var revokeCredentials: Bool? = nil
    }

    /// The hostile kinds `Faults.hostile` takes.
    static let hostileKinds: Set<String> = ["retry-after-huge", "reset-nan", "json-nul", "invalid-utf8", "malformed-json", "huge-body",
                                            "absurd-headers", "slow-drip"]

    struct Stats: Codable, Sendable {
        let requests: Int
        let accepted: Int
        let rateLimited: Int
        let failed: Int
        /// Accepted requests in the busiest window of the first (shortest) limit.
        let maxPerShortestWindow: Int
        let firstMs: Int?
        let lastMs: Int?
    }

    private struct State {
        var counts: [Int: (window: Int, n: Int)] = [:]
        var faults = Faults()
        var requests = 0
        var accepted: [Int] = []
        var rateLimited = 0
        var failed = 0
        var maxShortest = 0
    }

    let windows: [Window]
    private let state = NIOLockedValueBox(State())

    init(windows: [Window]) { self.windows = windows.sorted { $0.ms < $1.ms } }

    /// Parses "3/s,10000/d" (units ms, s, m, h, d).
    static func parse(_ text: String) throws -> [Window] {
        let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        return try text.split(separator: ",").map { part in
            let bits = part.split(separator: "/")
            guard bits.count == 2, let limit = Int(bits[0]), limit > 0,
                  let unit = units.first(where: { bits[1].hasSuffix($0.0) && Int(bits[1].dropLast($0.0.count)).map { $0 > 0 } ?? bits[1].dropLast($0.0.count).isEmpty }) else {
                throw SimulatorError("rate limit '\(part)' must look like 3/s or 10000/d")
            }
            let count = bits[1].dropLast(unit.0.count)
            return Window(limit: limit, ms: (count.isEmpty ? 1 : Int(count)!) * unit.1)
        }
    }

    enum Verdict: Sendable {
        case accept
        case rateLimited(retryAfterSeconds: Int)
        case fail
    }

    /// Counts a request and decides its fate. `latencyMs` is the delay to apply first.
    func admit() -> (verdict: Verdict, latencyMs: Int) {
        let now = Int(Date().timeIntervalSince1970 * 1000)
        return state.withLockedValue { s in
            s.requests += 1
            let latency = s.faults.latencyMs ?? 0
            if s.faults.outage == true { s.failed += 1; return (.fail, latency) }
            if let n = s.faults.failNext, n > 0 { s.faults.failNext = n - 1; s.failed += 1; return (.fail, latency) }
            for (i, w) in windows.enumerated() {
                let current = now / w.ms
                let used = s.counts[i].map { $0.window == current ? $0.n : 0 } ?? 0
                if used >= w.limit {
                    s.rateLimited += 1
                    return (.rateLimited(retryAfterSeconds: max(1, ((current + 1) * w.ms - now + 999) / 1000)), latency)
                }
            }
            for (i, w) in windows.enumerated() {
                let current = now / w.ms
                let used = s.counts[i].map { $0.window == current ? $0.n : 0 } ?? 0
                s.counts[i] = (current, used + 1)
                if i == 0 { s.maxShortest = max(s.maxShortest, used + 1) }
            }
            s.accepted.append(now)
            return (.accept, latency)
        }
    }

    func setFaults(_ faults: Faults) { state.withLockedValue { $0.faults = faults } }

    /// Whether the customer revoked the credentials (a fault switch): every request then gets 401.
    var credentialsRevoked: Bool { state.withLockedValue { $0.faults.revokeCredentials == true } }

    /// The hostile answer to give this request, if any (counts down `hostileNext`).
    func hostileAnswer() -> String? {
        state.withLockedValue { s in
            guard let kind = s.faults.hostile else { return nil }
            if let n = s.faults.hostileNext {
                guard n > 0 else { return nil }
                s.faults.hostileNext = n - 1
            }
            s.failed += 1
            return kind
        }
    }

    /// Whether to leave the next record out (counts down `dropRecords`).
    func dropRecord() -> Bool {
        state.withLockedValue { s in
            guard let n = s.faults.dropRecords, n > 0 else { return false }
            s.faults.dropRecords = n - 1
            return true
        }
    }

    func stats() -> Stats {
        state.withLockedValue { s in
            Stats(requests: s.requests, accepted: s.accepted.count, rateLimited: s.rateLimited, failed: s.failed,
                  maxPerShortestWindow: s.maxShortest, firstMs: s.accepted.first, lastMs: s.accepted.last)
        }
    }
}

/// A bad simulator option.
struct SimulatorError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
