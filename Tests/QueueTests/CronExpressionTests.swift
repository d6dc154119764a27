import Foundation
import Testing
@testable import Queue

@Suite struct CronExpressionTests {
    let utc = TimeZone(identifier: "UTC")!
    let berlin = TimeZone(identifier: "Europe/Berlin")!

    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func parsesFieldsRangesStepsAndNames() throws {
        let c = try CronExpression(parsing: "*/15 9-17 * jan-mar mon-fri")
        #expect(c.minutes == [0, 15, 30, 45])
        #expect(c.hours == Array(9...17))
        #expect(c.months == [1, 2, 3])
        #expect(c.daysOfWeek == [1, 2, 3, 4, 5])
        #expect(try CronExpression(parsing: "0 0 * * 7").daysOfWeek == [0])
        #expect(try CronExpression(parsing: "5/20 * * * * *").seconds == [5, 25, 45])
        #expect(try CronExpression(parsing: "@daily") == CronExpression(parsing: "@daily"))
    }

    @Test(arguments: ["", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                      "*/0 * * * *", "5-1 * * * *", "x * * * *", "* * * foo *"])
    func rejectsMalformedExpressions(_ text: String) {
        #expect(throws: QueueError.self) { try CronExpression(parsing: text) }
    }

    @Test func previousSlotIsAtOrBeforeNow() throws {
        let nightly = try CronExpression(parsing: "0 22 * * *")
        #expect(nightly.previous(atOrBefore: date("2026-03-02T23:10:00Z"), in: utc) == date("2026-03-02T22:00:00Z"))
        #expect(nightly.previous(atOrBefore: date("2026-03-02T21:59:59Z"), in: utc) == date("2026-03-01T22:00:00Z"))
        #expect(nightly.previous(atOrBefore: date("2026-03-02T22:00:00Z"), in: utc) == date("2026-03-02T22:00:00Z"))
    }

    @Test func nextSlotIsStrictlyAfterNow() throws {
        let quarter = try CronExpression(parsing: "*/15 * * * *")
        #expect(quarter.next(after: date("2026-03-02T10:00:00Z"), in: utc) == date("2026-03-02T10:15:00Z"))
        #expect(quarter.next(after: date("2026-03-02T23:50:00Z"), in: utc) == date("2026-03-03T00:00:00Z"))
        let everySecond = try CronExpression(parsing: "* * * * * *")
        #expect(everySecond.next(after: date("2026-03-02T10:00:00Z"), in: utc) == date("2026-03-02T10:00:01Z"))
    }

    @Test func weekdaysAndDaysOfMonthCombineLikeCron() throws {
        // Restricting both fields means either may match (classic cron).
        let c = try CronExpression(parsing: "0 9 1 * mon")
        // 2026-03-01 is a Sunday (the 1st), 2026-03-02 a Monday.
        #expect(c.next(after: date("2026-02-28T12:00:00Z"), in: utc) == date("2026-03-01T09:00:00Z"))
        #expect(c.next(after: date("2026-03-01T12:00:00Z"), in: utc) == date("2026-03-02T09:00:00Z"))
        #expect(try CronExpression(parsing: "0 9 * * mon").next(after: date("2026-02-28T12:00:00Z"), in: utc) == date("2026-03-02T09:00:00Z"))
    }

    @Test func localTimeAcrossDaylightSavingChanges() throws {
        let night = try CronExpression(parsing: "0 22 * * *")
        // Berlin: 22:00 CET is 21:00 UTC in winter, 22:00 CEST is 20:00 UTC in summer (switch on 2026-03-29).
        #expect(night.next(after: date("2026-03-28T12:00:00Z"), in: berlin) == date("2026-03-28T21:00:00Z"))
        #expect(night.next(after: date("2026-03-29T12:00:00Z"), in: berlin) == date("2026-03-29T20:00:00Z"))
        // 02:30 does not exist on the spring-forward night: that day is skipped, not shifted.
        let gap = try CronExpression(parsing: "30 2 * * *")
        #expect(gap.next(after: date("2026-03-28T12:00:00Z"), in: berlin) == date("2026-03-30T00:30:00Z"))
    }

    @Test func impossibleDatesFindNothing() throws {
        #expect(try CronExpression(parsing: "0 0 31 2 *").next(after: date("2026-01-01T00:00:00Z"), in: utc) == nil)
    }
}
