import Foundation

/// The hours in which bulk (non-urgent) imports run, e.g. 22:00–06:00 in the tenant's time zone.
public struct NightWindow: Sendable, Equatable, CustomStringConvertible {
    /// Minutes after local midnight.
    public let startMinute: Int
    public let endMinute: Int
    public let timeZone: TimeZone

    /// Parses "HH:MM-HH:MM"; the window may run past midnight.
    public init(parsing text: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let start = Self.minute(parts[0]), let end = Self.minute(parts[1]), start != end else {
            throw ImportError(.invalidInput, "night window '\(text)' must look like 22:00-06:00 (start and end differ)")
        }
        self.startMinute = start
        self.endMinute = end
        self.timeZone = timeZone
    }

    static func minute(_ text: Substring) -> Int? {
        let hm = text.trimmingCharacters(in: .whitespaces).split(separator: ":")
        guard hm.count == 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...23).contains(h), (0...59).contains(m) else { return nil }
        return h * 60 + m
    }

    /// Length of one window in milliseconds.
    public var lengthMs: Int { ((endMinute - startMinute + 1440) % 1440) * 60_000 }

    public var description: String {
        func hhmm(_ m: Int) -> String { String(format: "%02d:%02d", m / 60, m % 60) }
        return "\(hhmm(startMinute))-\(hhmm(endMinute))"
    }

    private func localMinute(_ date: Date) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.hour, .minute], from: date)
        return (c.hour ?? 0) * 60 + (c.minute ?? 0)
    }

    /// Whether `date` falls inside the window.
    public func contains(_ date: Date) -> Bool {
        let m = localMinute(date)
        return startMinute < endMinute ? (m >= startMinute && m < endMinute) : (m >= startMinute || m < endMinute)
    }

    /// The next moment the window opens at or after `date` (`date` itself when inside).
    public func nextOpening(after date: Date) -> Date {
        if contains(date) { return date }
        let minutesUntil = (startMinute - localMinute(date) + 1440) % 1440
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let startOfMinute = calendar.date(bySetting: .second, value: 0, of: date).map { calendar.date(bySetting: .nanosecond, value: 0, of: $0) ?? $0 } ?? date
        return startOfMinute.addingTimeInterval(Double(minutesUntil) * 60)
    }
}
