import Testing
@testable import Queue

/// A deterministic generator so jitter can be checked.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct BackoffTests {
    @Test func ceilingDoublesUntilTheCap() {
        let backoff = Backoff(baseMs: 100, capMs: 1000)
        #expect((1...6).map { backoff.ceilingMs(attempt: $0) } == [100, 200, 400, 800, 1000, 1000])
    }

    @Test func hugeAttemptNumbersDoNotOverflow() {
        #expect(Backoff(baseMs: 1000, capMs: 60_000).ceilingMs(attempt: 500) == 60_000)
    }

    @Test func fullJitterStaysWithinTheCeilingAndSpreads() {
        let backoff = Backoff(baseMs: 100, capMs: 10_000)
        var generator = SeededGenerator(state: 42)
        let draws = (0..<2000).map { _ in backoff.delayMs(attempt: 4, using: &generator) }
        #expect(draws.allSatisfy { (0...800).contains($0) })
        // Full jitter: draws cover the range instead of clustering at the ceiling.
        #expect(draws.contains { $0 < 100 })
        #expect(draws.contains { $0 > 700 })
        let mean = Double(draws.reduce(0, +)) / Double(draws.count)
        #expect(abs(mean - 400) < 40)
    }
}
