import Foundation

/// A phone number in E.164 form ("+15551234567"), the key of the lead cache.
public struct PhoneNumber: Sendable, Hashable, CustomStringConvertible {
    public let e164: String

    /// Normalises what a telephony platform sends: "+1 (555) 123-4567", "0049 30 1234567",
    /// "030 1234567" (national, with the tenant's country code and trunk prefix), "5551234567",
    /// "+44 (0)20 7946 0958" (the bracketed trunk prefix is not dialled from abroad). The trunk
    /// "0" goes only where the country drops it: Italian numbers keep it ("06 …" → "+3906…").
    /// Throws a message saying why the number cannot be used.
    public init(parsing raw: String, defaultCountryCode: String = "1") throws {
        // Bytes, not Characters: this runs on every call.
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var plus = false
        var seen = false
        let text = raw.utf8.allSatisfy({ $0 < 0x80 }) ? raw : raw.replacingOccurrences(of: "\u{00A0}", with: " ")
        // Digits before the last "(" (-1: none open); a "(0)" after the country code is the trunk
        // prefix written for national callers and is not dialled.
        var openedAt = -1
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte); seen = true
            case UInt8(ascii: "+") where !seen && !plus: plus = true; seen = true
            case UInt8(ascii: "("): openedAt = digits.count
            case UInt8(ascii: ")"):
                if openedAt > 0, digits.count == openedAt + 1, digits.last == UInt8(ascii: "0") { digits.removeLast() }
                openedAt = -1
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), 0x09:
                continue
            default:
                let bad = raw.first { !($0.isASCII && ($0.isNumber || " -().+/\t".contains($0))) && $0 != "\u{00A0}" } ?? "+"
                throw RoutingError(.invalidInput, "phone number '\(raw)' contains '\(bad)'")
            }
        }
        guard !digits.isEmpty || plus else { throw RoutingError(.invalidInput, "the phone number is empty") }
        if !plus && digits.count >= 2 && digits[0] == UInt8(ascii: "0") && digits[1] == UInt8(ascii: "0") { digits.removeFirst(2); plus = true }
        if !plus {
            if defaultCountryCode == "1" {
                if digits.count == 10 { digits.insert(UInt8(ascii: "1"), at: 0) } else if !(digits.count == 11 && digits[0] == UInt8(ascii: "1")) {
                    throw RoutingError(.invalidInput, "phone number '\(raw)' is not a 10-digit North American number")
                }
            } else {
                if digits.first == UInt8(ascii: "0"), !Self.keepsTrunkZero.contains(defaultCountryCode) { digits.removeFirst() }
                digits.insert(contentsOf: defaultCountryCode.utf8, at: 0)
            }
        } else if digits.count > 4, digits[1...3].contains(UInt8(ascii: "0")), // cheap test first: most numbers have no 0 there
                  let code = Self.dropsTrunkZero.first(where: { digits.starts(with: $0.utf8) }), digits[code.utf8.count] == UInt8(ascii: "0") {
            // "+44 020 …": a trunk 0 written after the country code is never dialled internationally.
            digits.remove(at: code.utf8.count)
        }
        guard (8...15).contains(digits.count), digits.first != UInt8(ascii: "0") else {
            throw RoutingError(.invalidInput, "phone number '\(raw)' is not a valid international number (8-15 digits)")
        }
        e164 = "+" + String(decoding: digits, as: UTF8.self)
    }

    public var description: String { e164 }

    /// Countries whose national numbers keep their leading 0 in E.164 (Italy, San Marino, Vatican).
    static let keepsTrunkZero: Set<String> = ["39", "378", "379"]
    /// Countries with a trunk prefix 0 that E.164 drops, where "+CC 0…" is a common misspelling
    /// (E.164 country codes are prefix-free, so matching by prefix is unambiguous).
    static let dropsTrunkZero: [String] = ["44", "49", "33", "31", "32", "41", "43", "46", "353", "358", "61", "64", "81", "82", "86", "91", "27", "90", "972"]
}
