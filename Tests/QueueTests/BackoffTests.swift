import Basics
import Testing
@testable import Queue


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
        var generator = SeededRandom(seed: 42) // deterministic, so jitter can be checked
        let draws = (0..<2000).map { _ in backoff.delayMs(attempt: 4, using: &generator) }
        #expect(draws.allSatisfy { (0...800).contains($0) })
        // Full jitter: draws cover the range instead of clustering at the ceiling.
        #expect(draws.contains { $0 < 100 })
        #expect(draws.contains { $0 > 700 })
        let mean = Double(draws.reduce(0, +)) / Double(draws.count)
        #expect(abs(mean - 400) < 40)
    }
}
