import Foundation

/// A phone number in E.164 form ("+15551234567"), the key of the lead cache.
public struct PhoneNumber: Sendable, Hashable, CustomStringConvertible {
    public let e164: String

    /// Normalises what a telephony platform sends: "+1 (555) 123-4567", "0049 30 1234567",
    /// "030 1234567" (national, with the tenant's country code and trunk prefix), "5551234567".
    /// Throws a message saying why the number cannot be used.
    public init(parsing raw: String, defaultCountryCode: String = "1") throws {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw RoutingError(.invalidInput, "the phone number is empty") }
        var digits = ""
        var plus = false
        for (i, ch) in trimmed.enumerated() {
            if ch == "+" && i == 0 { plus = true; continue }
            if ch.isASCII && ch.isNumber { digits.append(ch); continue }
            if " -().\u{00A0}/".contains(ch) { continue }
            throw RoutingError(.invalidInput, "phone number '\(raw)' contains '\(ch)'")
        }
        if !plus && digits.hasPrefix("00") { digits.removeFirst(2); plus = true }
        if !plus {
            if defaultCountryCode == "1" {
                if digits.count == 10 { digits = "1" + digits } else if !(digits.count == 11 && digits.hasPrefix("1")) {
                    throw RoutingError(.invalidInput, "phone number '\(raw)' is not a 10-digit North American number")
                }
            } else {
                if digits.hasPrefix("0") { digits.removeFirst() }
                digits = defaultCountryCode + digits
            }
        }
        guard (8...15).contains(digits.count), digits.first != "0" else {
            throw RoutingError(.invalidInput, "phone number '\(raw)' is not a valid international number (8-15 digits)")
        }
        e164 = "+" + digits
    }

    public var description: String { e164 }
}

/// An error of the routing domain, with a code the HTTP layer maps to a status once.
public struct RoutingError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable { case invalidInput, unknownDialer, invalidRules }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}
