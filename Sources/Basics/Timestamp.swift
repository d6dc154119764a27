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

    /// Milliseconds since 1970 as UTC text Postgres reads (`2026-12-01 17:08:09.123+00`),
    /// without a formatter: the audit writer formats two per row.
    public static func utcText(ms: Int64) -> String {
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let inDay = ms - days * 86_400_000
        let (year, month, day) = civilDate(daysSince1970: days)
        let millis = inDay % 1000, seconds = inDay / 1000
        // Years outside 0…9999 are rare enough for interpolation; the rest is written as bytes.
        guard (0...9999).contains(year) else {
            func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
            let frac = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
            return "\(year)-\(two(month))-\(two(day)) \(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60)).\(frac)+00"
        }
        return String(unsafeUninitializedCapacity: 26) { out in
            func digits(_ value: Int64, _ count: Int, at start: Int) {
                var v = value
                for i in stride(from: start + count - 1, through: start, by: -1) {
                    out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            digits(year, 4, at: 0); out[4] = UInt8(ascii: "-"); digits(month, 2, at: 5); out[7] = UInt8(ascii: "-"); digits(day, 2, at: 8)
            out[10] = UInt8(ascii: " "); digits(seconds / 3600, 2, at: 11); out[13] = UInt8(ascii: ":"); digits(seconds / 60 % 60, 2, at: 14)
            out[16] = UInt8(ascii: ":"); digits(seconds % 60, 2, at: 17); out[19] = UInt8(ascii: "."); digits(millis, 3, at: 20)
            out[23] = UInt8(ascii: "+"); out[24] = UInt8(ascii: "0"); out[25] = UInt8(ascii: "0")
            return 26
        }
    }

    /// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01 (Howard
    /// Hinnant's algorithm; negative days are before 1970). HTTP dates and audit times use it.
    public static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
