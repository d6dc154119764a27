import Basics
import Foundation
import Testing

/// The audit writer's own UTC formatting agrees with Foundation's, around the epoch, leap days and far dates.
@Suite struct UTCTextTests {
    @Test func agreesWithISO8601() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var random = SeededRandom(seed: 3)
        let samples: [Int64] = [0, 1, 999, 86_399_999, 86_400_000, 951_782_400_000, 1_709_164_800_123, 4_102_444_799_999, -1, -86_400_001]
            + (0..<500).map { _ in Int64(random.next() % 4_102_444_800_000) }
        for ms in samples {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
                .replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "+00")
            #expect(Timestamp.utcText(ms: ms) == expected, "\(ms)")
        }
    }
}
