/// The one definition of a tenant id every entry point checks: 1–63 ASCII letters, digits,
/// `.`, `_` or `-`, starting with a letter or digit (so it is safe in Redis keys, URLs and
/// Postgres without escaping).
public enum TenantID {
    /// Whether `tenant` is a valid tenant id.
    public static func isValid(_ tenant: String) -> Bool {
        let bytes = Array(tenant.utf8)
        guard (1...63).contains(bytes.count), isAlphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Throws `RoutingError.invalidInput` naming the rule when `tenant` is not valid.
    public static func check(_ tenant: String) throws {
        guard isValid(tenant) else {
            throw RoutingError(.invalidInput, "tenant id '\(tenant)' must be 1-63 letters, digits, '.', '_' or '-'")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
