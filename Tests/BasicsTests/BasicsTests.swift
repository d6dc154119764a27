import Foundation
import Testing

@testable import Basics

@Suite struct HexTests {
    @Test func encodesBytesAsLowerCaseHex() {
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.encode([UInt8]()) == "")
    }

    @Test func randomTokensHaveTheirLengthAndDiffer() {
        let a = Hex.random(bytes: 20), b = Hex.random(bytes: 20)
        #expect(a.count == 40 && b.count == 40)
        #expect(a != b)
        #expect(a.allSatisfy { "0123456789abcdef".contains($0) })
    }
}

@Suite struct TimestampTests {
    @Test func vendorsTimestampsParseWithOrWithoutFractionsAndOffsets() {
        let base = Timestamp.parse("2025-03-01T17:01:30Z")
        #expect(base != nil)
        #expect(Timestamp.parse("2025-03-01T17:01:30.250Z") == base.map { $0.addingTimeInterval(0.25) })
        #expect(Timestamp.parse("2025-03-01T09:01:30-08:00") == base)
        #expect(Timestamp.parse("2025-03-01T17:01:30.250Z").map(Timestamp.fractionalString) == "2025-03-01T17:01:30.250Z")
        for bad in ["", "yesterday", "2025-13-01T00:00:00Z", "2025-03-01", String(repeating: "9", count: 100)] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct BaseURLTests {
    @Test(arguments: [("http://h/api/", "http://h/api"), ("http://h//", "http://h"), ("http://h", "http://h"), ("", "")])
    func trailingSlashesGo(raw: String, trimmed: String) {
        #expect(BaseURL.trimmed(raw) == trimmed)
    }
}

@Suite struct TTLCacheTests {
    @Test func entriesExpireAfterTheirTime() {
        let cache = TTLCache<String, Int>(ttlMs: 1000)
        cache.set(1, for: "a", now: 0)
        #expect(cache.value(for: "a", now: 999_000_000) == 1)
        #expect(cache.value(for: "a", now: 1_000_000_000) == nil)
    }

    @Test func aCachedNoneIsDistinctFromAMiss() {
        let cache = TTLCache<String, String?>(ttlMs: 1000)
        cache.set(nil, for: "absent", now: 0)
        #expect(cache.value(for: "absent", now: 1) == .some(nil))
        #expect(cache.value(for: "unknown", now: 1) == nil)
    }

    @Test func theCacheNeverHoldsMoreThanItsCapacity() {
        let cache = TTLCache<Int, Int>(ttlMs: 60_000, capacity: 100)
        for i in 0..<1000 { cache.set(i, for: i, now: 0) }
        #expect(cache.count <= 100)
        #expect(cache.value(for: 999, now: 1) == 999)
    }
}

@Suite struct JSONValueTests {
    @Test func roundTripsEveryKind() throws {
        let text = #"{"a":null,"b":true,"c":42,"d":1.5,"e":"x","f":[1,"y"],"g":{"h":-3}}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(value.object?["c"]?.int == 42)
        #expect(value.object?["d"]?.double == 1.5)
        #expect(value.object?["d"]?.int == nil)
        #expect(value.object?["b"] == .bool(true))
        #expect(value.object?["a"] == .null)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(String(decoding: try encoder.encode(value), as: UTF8.self) == text)
    }
}
