import Testing
@testable import Queue

@Suite struct RateLimitTests {
    @Test func parsesVendorStyleSpecs() throws {
        #expect(try RateLimit(parsing: "3/s,10000/d").windows == [RateWindow(limit: 3, windowMs: 1000), RateWindow(limit: 10_000, windowMs: 86_400_000)])
        #expect(try RateLimit(parsing: "100/1m").windows == [RateWindow(limit: 100, windowMs: 60_000)])
        #expect(try RateLimit(parsing: "5/500ms").windows == [RateWindow(limit: 5, windowMs: 500)])
        #expect(try RateLimit(parsing: " 20/2s , 60/h").windows == [RateWindow(limit: 20, windowMs: 2000), RateWindow(limit: 60, windowMs: 3_600_000)])
    }

    @Test(arguments: ["", "3", "3/", "/s", "0/s", "-1/s", "3/x", "3/0s", "3/s/2", "three/s", "3/1.5s"])
    func rejectsMalformedSpecs(_ text: String) {
        #expect(throws: QueueError.self) { try RateLimit(parsing: text) }
    }

    @Test func redisSpecWidensWindowsByTheMargin() throws {
        #expect(try RateLimit(parsing: "3/s,10000/d").redisSpec(marginMs: 25) == "3/1025,10000/86400025")
    }

    @Test func sustainedRateIsTheTightestWindow() throws {
        #expect(try RateLimit(parsing: "3/s").sustainedPerSecond == 3)
        // 10,000 a day is tighter than 3 a second over a day.
        #expect(abs(try RateLimit(parsing: "3/s,10000/d").sustainedPerSecond - 10_000.0 / 86_400) < 1e-9)
    }

    @Test func minimumDurationCountsWholeWindows() throws {
        let gong = try RateLimit(parsing: "3/s")
        #expect(gong.minimumDurationMs(requests: 1) == 0)
        #expect(gong.minimumDurationMs(requests: 3) == 0)
        #expect(gong.minimumDurationMs(requests: 4) == 1000)
        #expect(gong.minimumDurationMs(requests: 300) == 99_000)
        #expect(gong.minimumDurationMs(requests: 300, marginMs: 25) == 99 * 1025)
        let daily = try RateLimit(parsing: "3/s,10000/d")
        #expect(daily.minimumDurationMs(requests: 10_001) == 86_400_000)
    }
}
