import Foundation

extension JSONEncoder {
    /// An encoder whose output is stable (keys sorted), for payloads, answers and files that are
    /// compared, signed or diffed; `pretty` for people, `isoDates` for `Date` as ISO 8601.
    public static func sorted(pretty: Bool = false, isoDates: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        if isoDates { encoder.dateEncodingStrategy = .iso8601 }
        return encoder
    }

    /// `value` as sorted-key JSON text.
    public static func sortedText(_ value: some Encodable, pretty: Bool = false) throws -> String {
        String(decoding: try sorted(pretty: pretty).encode(value), as: UTF8.self)
    }
}
