/// A service's base URL as configured, ready to have paths appended.
public enum BaseURL {
    /// `url` without trailing slashes ("http://h/api/" → "http://h/api").
    public static func trimmed(_ url: String) -> String {
        var base = Substring(url)
        while base.hasSuffix("/") { base.removeLast() }
        return String(base)
    }
}
