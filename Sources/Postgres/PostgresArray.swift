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
}
