/// Exponential backoff with full jitter: attempt n waits a uniform random time in
/// [0, min(cap, base · 2^(n-1))], so retries of many jobs spread out instead of arriving together.
public struct Backoff: Sendable, Equatable {
    public let baseMs: Int
    public let capMs: Int

    public init(baseMs: Int = 1000, capMs: Int = 300_000) {
        self.baseMs = baseMs
        self.capMs = capMs
    }

    /// The largest delay attempt `attempt` (1-based) can draw.
    public func ceilingMs(attempt: Int) -> Int {
        let exponent = min(max(attempt - 1, 0), 40)
        let (scaled, overflow) = baseMs.multipliedReportingOverflow(by: 1 << exponent)
        return overflow ? capMs : min(capMs, scaled)
    }

    /// A delay for `attempt`, drawn with `random` (injectable for tests).
    public func delayMs<G: RandomNumberGenerator>(attempt: Int, using random: inout G) -> Int {
        Int.random(in: 0...ceilingMs(attempt: attempt), using: &random)
    }

    /// A delay for `attempt` from the system generator.
    public func delayMs(attempt: Int) -> Int {
        var generator = SystemRandomNumberGenerator()
        return delayMs(attempt: attempt, using: &generator)
    }
}
