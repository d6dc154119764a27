import Basics
import Foundation
import NIOCore

/// The `date` header's value (IMF-fixdate), formatted once per second.
public struct HTTPDate: Sendable {
    private var second = -1
    private var text: [UInt8] = []
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"] // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public init() {}

    /// Appends the current time's value.
    public mutating func write(into buffer: inout ByteBuffer) {
        let now = Int(Date().timeIntervalSince1970)
        if now != second {
            second = now
            text = Array(Self.format(now).utf8)
        }
        buffer.writeBytes(text)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for seconds since 1970.
    public static func format(_ seconds: Int) -> String {
        let days = seconds / 86_400, rest = seconds % 86_400
        let civil = Timestamp.civilDate(daysSince1970: Int64(days))
        let (year, month, day) = (Int(civil.year), Int(civil.month), Int(civil.day))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(Self.days[days % 7]), \(two(day)) \(Self.months[month - 1]) \(year) \(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60)) GMT"
    }
}
