/// A strict reader for the one JSON shape the router's hot path receives: a flat object whose
/// values are strings or null. Anything else (nesting, numbers, odd escapes) returns nil, and the
/// caller falls back to Foundation's JSONDecoder, which then decides. Saves the decoder's
/// allocations on every call.
public enum FlatJSON {
    /// The object's string members (null members are absent); nil when the text is not such an object.
    public static func parse(_ bytes: [UInt8]) -> [String: String]? {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// `parse` over bytes in place (a request body in its buffer).
    public static func parse(_ b: UnsafeRawBufferPointer) -> [String: String]? {
        var i = 0
        func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
        func string() -> String? {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            // The usual case, no escapes: the String straight from the bytes.
            var end = i
            while end < b.count, b[end] != UInt8(ascii: "\""), b[end] != UInt8(ascii: "\\"), b[end] >= 0x20 { end += 1 }
            if end < b.count, b[end] == UInt8(ascii: "\"") {
                defer { i = end + 1 }
                return String(validating: UnsafeRawBufferPointer(rebasing: b[i..<end]), as: UTF8.self)
            }
            var out: [UInt8] = []
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; return String(validating: out, as: UTF8.self) }
                if c < 0x20 { return nil }
                if c == UInt8(ascii: "\\") {
                    guard i + 1 < b.count else { return nil }
                    switch b[i + 1] {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    default: return nil // \\u, \\b, \\f: leave to the full decoder
                    }
                    i += 2
                    continue
                }
                out.append(c)
                i += 1
            }
            return nil
        }
        skipSpace()
        guard i < b.count, b[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var members: [String: String] = [:]
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1 } else {
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                skipSpace()
                if i + 4 <= b.count, b[i] == UInt8(ascii: "n"), b[i + 1] == UInt8(ascii: "u"), b[i + 2] == UInt8(ascii: "l"), b[i + 3] == UInt8(ascii: "l") {
                    i += 4
                } else {
                    guard let value = string() else { return nil }
                    guard members[key] == nil else { return nil } // duplicate keys: let the full decoder decide
                    members[key] = value
                }
                skipSpace()
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; break }
                return nil
            }
        }
        skipSpace()
        return i == b.count ? members : nil
    }
}
