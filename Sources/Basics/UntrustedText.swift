/// Text from outside checked before it is stored in Postgres, Redis or an audit chain: Postgres
/// rejects NUL in `text` and `\u0000` / lone surrogates in `jsonb`, so such text must be refused
/// at the edge with a clear message (or cleaned, for free text) instead of failing a batch later.
public enum UntrustedText {
    /// Why `text` is not acceptable as an identifier-like value (ids, names, phone numbers):
    /// empty, longer than `maxBytes` UTF-8 bytes, or holding a control character, a replacement
    /// character (invalid UTF-8 or a lone surrogate upstream) or a noncharacter. nil when fine.
    public static func problem(_ text: String, maxBytes: Int, allowEmpty: Bool = false) -> String? {
        if text.isEmpty { return allowEmpty ? nil : "must not be empty" }
        if text.utf8.count > maxBytes { return "must be at most \(maxBytes) bytes" }
        // The usual case, printable ASCII, in one pass over the bytes (this runs on every route call).
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return nil }
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v == 0 { return "must not contain NUL" }
            if v < 0x20 || (0x7F...0x9F).contains(v) { return "must not contain control characters" }
            if v == 0xFFFD { return "must be valid UTF-8 (it holds a replacement character)" }
            if (0xFDD0...0xFDEF).contains(v) || v & 0xFFFE == 0xFFFE { return "must not contain Unicode noncharacters" }
        }
        return nil
    }

    /// Free text (titles, transcripts, notes) made storable: NUL and other C0 controls except tab,
    /// newline and carriage return are removed, and the result is cut to at most `maxBytes` bytes
    /// on a character boundary. Invalid UTF-8 has already become U+FFFD when the bytes were decoded.
    public static func cleaned(_ text: String, maxBytes: Int) -> String {
        var needsWork = text.utf8.count > maxBytes
        if !needsWork {
            for b in text.utf8 where b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D { needsWork = true; break }
        }
        guard needsWork else { return text }
        var out = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D { continue }
            let width = UTF8.width(scalar)
            if bytes + width > maxBytes { break }
            bytes += width
            out.append(scalar)
        }
        return String(out)
    }
}
