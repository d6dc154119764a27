/// A fleet-wide rate limit: at most `limit` job starts in any sliding window of `windowMs`.
public struct RateWindow: Sendable, Equatable, Codable {
    public let limit: Int
    public let windowMs: Int

    public init(limit: Int, windowMs: Int) {
        self.limit = limit
        self.windowMs = windowMs
    }
}

/// The windows of one limit group, e.g. Gong's "3/s,10000/d": every window holds at once.
public struct RateLimit: Sendable, Equatable, Codable {
    public let windows: [RateWindow]

    public init(_ windows: [RateWindow]) { self.windows = windows }

    /// Parses "3/s", "3/1s", "100/1m", "10000/d", "5/500ms", "3/s,10000/d".
    public init(parsing text: String) throws {
        var windows: [RateWindow] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count == 2, let limit = Int(pieces[0].trimmingSpaces), limit > 0 else {
                throw QueueError(.invalidLimit, "rate limit '\(part)' must look like 3/s, 100/1m or 10000/d")
            }
            windows.append(RateWindow(limit: limit, windowMs: try Self.parseDuration(String(pieces[1].trimmingSpaces))))
        }
        guard !windows.isEmpty else { throw QueueError(.invalidLimit, "rate limit is empty") }
        self.windows = windows
    }

    /// Parses a duration such as "500ms", "1s", "s", "2m", "1h", "d".
    public static func parseDuration(_ text: String) throws -> Int {
        let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if number.isEmpty { return scale }
            if let n = Int(number), n > 0, n <= 366 * 86_400_000 / scale { return n * scale }
            break
        }
        throw QueueError(.invalidLimit, "duration '\(text)' must be a number followed by ms, s, m, h or d")
    }

    /// The form stored in Redis: "limit/windowMs" pairs, each window widened by `marginMs` so that
    /// network jitter between the claim and the request cannot push a vendor's count over.
    public func redisSpec(marginMs: Int) -> String {
        windows.map { "\($0.limit)/\($0.windowMs + marginMs)" }.joined(separator: ",")
    }

    /// The sustained rate (requests per second) the tightest window allows.
    public var sustainedPerSecond: Double {
        windows.map { Double($0.limit) * 1000 / Double($0.windowMs) }.min() ?? .infinity
    }

    /// Milliseconds from the first to the last of `requests` starts when the limiter is the only
    /// brake: each window lets `limit` through, then the next `limit` one window later.
    public func minimumDurationMs(requests: Int, marginMs: Int = 0) -> Int {
        guard requests > 1 else { return 0 }
        return windows.map { (requests - 1) / $0.limit * ($0.windowMs + marginMs) }.max() ?? 0
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
