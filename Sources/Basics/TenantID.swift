/// The one definition of a tenant id every entry point checks (imports, routing, the console,
/// the CLI, the voice front door): 1–63 lower-case ASCII letters, digits, `.`, `_` or `-`,
/// starting with a letter or digit. Every such character is unreserved in URLs and safe in Redis
/// keys and Postgres, so a tenant id is never escaped, and `Acme` cannot shadow `acme`.
public enum TenantID {
    /// The rule, as error messages state it.
    public static let rule = "1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"

    /// Whether `tenant` is a valid tenant id.
    public static func isValid(_ tenant: String) -> Bool {
        let bytes = tenant.utf8
        guard (1...63).contains(bytes.count), let first = bytes.first, isLowerAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Why `tenant` is not a valid tenant id; nil when it is.
    public static func problem(_ tenant: String) -> String? {
        isValid(tenant) ? nil : "tenant id '\(String(tenant.unicodeScalars.prefix(80).map { $0.value < 0x20 ? "?" : Character($0) }))' must be \(rule)"
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
