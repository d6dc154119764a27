import Foundation

/// ISO-8601 instants as vendors send them: with or without fractional seconds, with `Z` or an
/// offset ("2025-03-01T17:01:30Z", "2025-03-01T17:01:30.123Z", "2018-02-18T02:30:00-07:00").
/// Foundation's default formatter refuses fractional seconds, so a connector using it alone
/// loses every timestamp of a vendor that sends them.
public enum Timestamp {
    /// The instant, or nil for anything else (never a trap).
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count <= 64 else { return nil }
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    /// "2025-03-01T17:01:30Z".
    public static func string(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// "2025-03-01T17:01:30.123Z".
    public static func fractionalString(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
