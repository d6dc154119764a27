import Foundation

/// Reads configuration from environment variables, once, at process start. Every getter names
/// its variable and default; a malformed value is an error that says which variable and why.
public struct EnvironmentVariables: Sendable {
    public let values: [String: String]

    /// Defaults to the process environment; tests pass their own dictionary.
    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// A text value, or the default when unset or empty.
    public func string(_ name: String, default fallback: String) -> String {
        if let v = values[name], !v.isEmpty { return v }
        return fallback
    }

    /// An optional text value (nil when unset or empty).
    public func optional(_ name: String) -> String? {
        if let v = values[name], !v.isEmpty { return v }
        return nil
    }

    /// An integer within `range`, or the default when unset.
    public func int(_ name: String, default fallback: Int, range: ClosedRange<Int> = 0...Int.max) throws -> Int {
        guard let text = optional(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw SettingsError("\(name)=\(text) must be a whole number between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    /// A comma-separated list, blanks dropped.
    public func list(_ name: String, default fallback: [String]) -> [String] {
        guard let text = optional(name) else { return fallback }
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// "a=x;b=y" pairs, e.g. SB_RATE_LIMITS="gong=3/s,10000/d;fathom=60/m".
    public func pairs(_ name: String, default fallback: String? = nil) throws -> [(String, String)] {
        guard let text = optional(name) ?? fallback else { return [] }
        return try text.split(separator: ";").map { item in
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].trimmingCharacters(in: .whitespaces).isEmpty else {
                throw SettingsError("\(name): '\(item)' must look like name=value")
            }
            return (parts[0].trimmingCharacters(in: .whitespaces), parts[1].trimmingCharacters(in: .whitespaces))
        }
    }
}

/// A configuration value that cannot be used; the message names the variable.
public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads a process's settings; on a bad value prints "<process>: <message>" and exits with status 2.
public func settingsOrExit<T>(_ process: String, _ read: () throws -> T) -> T {
    do { return try read() } catch {
        FileHandle.standardError.write(Data("\(process): \(error)\n".utf8))
        exit(2)
    }
}
