import Basics
import Foundation

/// The credential fields each platform's connector needs, checked before they are sealed.
public enum ConnectorCredentials {
    static let required: [String: [String]] = [
        "gong": ["accessKey", "accessKeySecret"],
        "fathom": ["apiKey"],
        "grain": ["token"],
    ]

    /// The parsed fields; throws a message naming the missing fields (never their values).
    @discardableResult
    public static func validate(_ json: String, platform: String) throws -> [String: String] {
        guard let object = (try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)))?.object else {
            throw ImportError(.invalidInput, "credentials must be a JSON object")
        }
        var fields: [String: String] = [:]
        for (key, value) in object {
            guard let text = value.string else { throw ImportError(.invalidInput, "credential field '\(key)' must be text") }
            fields[key] = text
        }
        let missing = (required[platform] ?? []).filter { (fields[$0] ?? "").isEmpty }
        guard missing.isEmpty else {
            throw ImportError(.invalidInput, "\(platform) credentials need \(missing.joined(separator: ", "))")
        }
        if let base = fields["baseUrl"] {
            guard let url = URL(string: base), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ImportError(.invalidInput, "credential field 'baseUrl' must be an http(s) URL")
            }
        }
        return fields
    }
}
