import Foundation

/// A phone number in E.164 form ("+15551234567"), the key of the lead cache.
public struct PhoneNumber: Sendable, Hashable, CustomStringConvertible {
    public let e164: String

    /// Normalises what a telephony platform sends: "+1 (555) 123-4567", "0049 30 1234567",
    /// "030 1234567" (national, with the tenant's country code and trunk prefix), "5551234567".
    /// Throws a message saying why the number cannot be used.
    public init(parsing raw: String, defaultCountryCode: String = "1") throws {
        // Bytes, not Characters: this runs on every call.
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var plus = false
        var seen = false
        let text = raw.utf8.allSatisfy({ $0 < 0x80 }) ? raw : raw.replacingOccurrences(of: "\u{00A0}", with: " ")
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte); seen = true
            case UInt8(ascii: "+") where !seen && !plus: plus = true; seen = true
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "."), UInt8(ascii: "/"), 0x09:
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
                if digits.first == UInt8(ascii: "0") { digits.removeFirst() }
                digits.insert(contentsOf: defaultCountryCode.utf8, at: 0)
            }
        }
        guard (8...15).contains(digits.count), digits.first != UInt8(ascii: "0") else {
            throw RoutingError(.invalidInput, "phone number '\(raw)' is not a valid international number (8-15 digits)")
        }
        e164 = "+" + String(decoding: digits, as: UTF8.self)
    }

    public var description: String { e164 }
}
