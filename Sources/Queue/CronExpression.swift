import Foundation

/// A cron expression: "minute hour day-of-month month day-of-week", or six fields with seconds
/// first, or a macro (@hourly, @daily, @midnight, @weekly, @monthly, @yearly).
/// Fields take *, lists (1,5), ranges (1-5), steps (*/15, 0-30/10) and names (jan, mon).
/// As in classic cron, when both day fields are restricted a day matching either one counts.
public struct CronExpression: Sendable, Equatable {
    public let source: String
    let seconds: [Int]
    let minutes: [Int]
    let hours: [Int]
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public init(parsing text: String) throws {
        let macros = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                      "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = macros[trimmed.lowercased()] ?? trimmed
        var fields = expanded.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw QueueError(.invalidCron, "cron '\(text)' must have 5 fields (minute hour day month weekday) or 6 with seconds first")
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        source = text
        seconds = try Self.field(fields[0], 0...59, name: "second").sorted()
        minutes = try Self.field(fields[1], 0...59, name: "minute").sorted()
        hours = try Self.field(fields[2], 0...23, name: "hour").sorted()
        daysOfMonth = try Self.field(fields[3], 1...31, name: "day of month")
        months = try Self.field(fields[4], 1...12, name: "month", names: monthNames, namesStart: 1)
        daysOfWeek = Set(try Self.field(fields[5], 0...7, name: "day of week", names: dayNames, namesStart: 0).map { $0 % 7 })
        dayOfMonthRestricted = fields[3] != "*" && fields[3] != "?"
        dayOfWeekRestricted = fields[5] != "*" && fields[5] != "?"
    }

    static func field(_ text: String, _ range: ClosedRange<Int>, name: String, names: [String] = [], namesStart: Int = 0) throws -> Set<Int> {
        func value(_ s: Substring) throws -> Int {
            if let n = Int(s), range.contains(n) { return n }
            if let i = names.firstIndex(of: s.lowercased()) { return i + namesStart }
            throw QueueError(.invalidCron, "\(name) '\(s)' must be within \(range.lowerBound)-\(range.upperBound)")
        }
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = part.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { throw QueueError(.invalidCron, "\(name) '\(part)' has more than one '/'") }
            var step = 1
            if stepParts.count == 2 {
                guard let s = Int(stepParts[1]), s > 0 else { throw QueueError(.invalidCron, "\(name) step '\(stepParts[1])' must be a positive number") }
                step = s
            }
            let base = stepParts[0]
            var low = range.lowerBound, high = range.upperBound
            if base == "*" || base == "?" {
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(base[..<dash])
                high = try value(base[base.index(after: dash)...])
                guard low <= high else { throw QueueError(.invalidCron, "\(name) range '\(base)' runs backwards") }
            } else {
                low = try value(base)
                high = stepParts.count == 2 ? range.upperBound : low
            }
            result.formUnion(stride(from: low, through: high, by: step))
        }
        return result
    }

    private func dayMatches(month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(weekday)
        if dayOfMonthRestricted && dayOfWeekRestricted { return dom || dow }
        return dom && dow
    }

    /// The latest firing time at or before `date` in `timeZone` (within the last eight years).
    public func previous(atOrBefore date: Date, in timeZone: TimeZone) -> Date? {
        search(from: date, in: timeZone, forward: false)
    }

    /// The earliest firing time strictly after `date` in `timeZone` (within the next eight years).
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        search(from: date.addingTimeInterval(1), in: timeZone, forward: true)
    }

    private func search(from date: Date, in timeZone: TimeZone, forward: Bool) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let now = calendar.dateComponents([.hour, .minute, .second], from: date)
        let today = calendar.startOfDay(for: date)
        let ordered = { (values: [Int]) in forward ? values : values.reversed() }
        for offset in 0..<(366 * 8) {
            guard let day = calendar.date(byAdding: .day, value: forward ? offset : -offset, to: today) else { return nil }
            let d = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            guard let month = d.month, let dayOfMonth = d.day, let weekday = d.weekday,
                  dayMatches(month: month, day: dayOfMonth, weekday: weekday - 1) else { continue }
            for hour in ordered(hours) {
                for minute in ordered(minutes) {
                    for second in ordered(seconds) {
                        var c = DateComponents()
                        (c.year, c.month, c.day, c.hour, c.minute, c.second) = (d.year, month, dayOfMonth, hour, minute, second)
                        guard let candidate = calendar.date(from: c) else { continue }
                        let back = calendar.dateComponents([.hour, .minute], from: candidate)
                        guard back.hour == hour, back.minute == minute else { continue } // skipped by a DST jump
                        if offset == 0 {
                            let sameOrLater = (hour, minute, second) >= (now.hour ?? 0, now.minute ?? 0, now.second ?? 0)
                            if forward ? !sameOrLater : (sameOrLater && (hour, minute, second) != (now.hour ?? 0, now.minute ?? 0, now.second ?? 0)) { continue }
                        }
                        return candidate
                    }
                }
            }
        }
        return nil
    }
}
