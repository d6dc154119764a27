import Basics
import Foundation
import Testing

@testable import Basics

/// Numbers and text from outside: never a trap, never unchecked.
@Suite struct UntrustedNumberTests {
    @Test(arguments: [Double.nan, .infinity, -.infinity, 1e20, -1e20, 9.3e18, Double(Int.max)])
    func absurdDoublesAreRefused(_ value: Double) {
        #expect(UntrustedNumber.int(value) == nil)
    }

    @Test func ordinaryDoublesAreTruncatedWithinTheirRange() {
        #expect(UntrustedNumber.int(2.9) == 2)
        #expect(UntrustedNumber.int(-2.9) == -2)
        #expect(UntrustedNumber.int(1e15) == 1_000_000_000_000_000)
        #expect(UntrustedNumber.int(5, in: 0...4) == nil)
        #expect(UntrustedNumber.int(4, in: 0...4) == 4)
    }

    @Test func clampingKeepsHugeValuesInRangeAndRefusesNaN() {
        #expect(UntrustedNumber.clampedInt(1e16 * 1000, to: 0...86_400_000) == 86_400_000)
        #expect(UntrustedNumber.clampedInt(.infinity, to: 0...10) == 10)
        #expect(UntrustedNumber.clampedInt(-.infinity, to: 0...10) == 0)
        #expect(UntrustedNumber.clampedInt(.nan, to: 0...10) == nil)
        #expect(UntrustedNumber.clampedInt(2.1, to: 0...10) == 3)
    }

    @Test(arguments: [("1e16", 86_400_000), ("2", 2000), ("0.5", 500), (" 3", nil), ("nan", nil), ("inf", 86_400_000),
                      ("-1", nil), ("", nil), ("1" + String(repeating: "0", count: 400), nil)] as [(String, Int?)])
    func retryAfterSecondsBecomeClampedMilliseconds(_ text: String, _ ms: Int?) {
        #expect(UntrustedNumber.milliseconds(seconds: text, clampedTo: 0...86_400_000) == ms)
    }
}

@Suite struct UntrustedTextTests {
    @Test(arguments: [("a\u{0}b", "NUL"), ("a\u{7}b", "control"), ("a\u{85}b", "control"), ("a\u{FFFD}b", "UTF-8"),
                      ("a\u{FFFF}", "noncharacter"), ("", "empty"), (String(repeating: "é", count: 101), "at most 200 bytes")])
    func identifiersWithWhatPostgresOrAPersonCannotUseAreRefused(_ text: String, _ words: String) {
        #expect(UntrustedText.problem(text, maxBytes: 200)?.contains(words) == true)
    }

    @Test func ordinaryIdentifiersPass() {
        #expect(UntrustedText.problem("CA1234-é-東京", maxBytes: 200) == nil)
        #expect(UntrustedText.problem("", maxBytes: 10, allowEmpty: true) == nil)
    }

    @Test func freeTextIsCleanedAndCutOnACharacterBoundary() {
        #expect(UntrustedText.cleaned("a\u{0}b\tc\nd\u{1}", maxBytes: 100) == "ab\tc\nd")
        #expect(UntrustedText.cleaned("ééé", maxBytes: 5) == "éé")
        #expect(UntrustedText.cleaned("plain", maxBytes: 100) == "plain")
    }
}
