/// Array parameters, bound as one text value (`$1::text[]`), never spliced into SQL: every
/// element is double-quoted with `"` and `\` escaped, so commas, braces, quotes and the word
/// NULL inside an element stay that element's text.
public enum PostgresArray {
    /// The array literal of `values` for a `text[]` parameter.
    public static func text(_ values: [String]) -> String {
        var out = "{"
        for (i, value) in values.enumerated() {
            if i > 0 { out += "," }
            out += "\""
            for ch in value {
                if ch == "\"" || ch == "\\" { out.append("\\") }
                out.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }

    /// The elements of a one-dimensional `text[]` as Postgres prints it (`{a,"b c",NULL}`);
    /// unquoted NULL becomes the empty string.
    public static func parseText(_ literal: String) -> [String] {
        let chars = Array(literal.unicodeScalars)
        guard chars.count >= 2, chars.first == "{", chars.last == "}" else { return [] }
        var out: [String] = [], current = String.UnicodeScalarView(), quoted = false, wasQuoted = false, i = 1
        func finish() {
            let text = String(current)
            out.append(!wasQuoted && text == "NULL" ? "" : text)
            current = String.UnicodeScalarView()
            wasQuoted = false
        }
        if chars.count == 2 { return [] }
        while i < chars.count - 1 {
            let c = chars[i]
            if quoted {
                if c == "\\", i + 1 < chars.count - 1 { current.append(chars[i + 1]); i += 2; continue }
                if c == "\"" { quoted = false } else { current.append(c) }
            } else if c == "\"" {
                quoted = true
                wasQuoted = true
            } else if c == "," {
                finish()
            } else {
                current.append(c)
            }
            i += 1
        }
        finish()
        return out
    }
}
