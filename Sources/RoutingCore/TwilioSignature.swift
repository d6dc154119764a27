import Crypto
import Foundation

/// The `X-Twilio-Signature` scheme (also accepted by SignalWire): Base64 of HMAC-SHA1, keyed
/// by the account's auth token, over the full URL the platform requested followed by every POST
/// parameter's name and value, sorted by name, with no delimiters.
public enum TwilioSignature {
    /// The signature a platform would send for this request.
    public static func compute(url: String, parameters: [(String, String)], token: String) -> String {
        var data = url
        for (name, value) in parameters.sorted(by: { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }) {
            data += name
            data += value
        }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(data.utf8), using: SymmetricKey(data: Data(token.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// True when `signature` matches (compared in constant time).
    public static func isValid(_ signature: String, url: String, parameters: [(String, String)], token: String) -> Bool {
        let expected = Array(compute(url: url, parameters: parameters, token: token).utf8)
        let given = Array(signature.utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<expected.count { difference |= expected[i] ^ given[i] }
        return difference == 0
    }

    /// Parses an `application/x-www-form-urlencoded` body into name/value pairs, in order.
    public static func formParameters(_ body: String) -> [(String, String)] {
        body.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// Encodes name/value pairs as a form body (what a platform posts).
    public static func formBody(_ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return parameters.map { name, value in
            (name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name) + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
        }.joined(separator: "&")
    }
}
