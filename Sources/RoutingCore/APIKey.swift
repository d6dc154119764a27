import Basics
import Crypto
import Foundation

/// A router API key: `sbr_` and 48 hex digits, handed out once; Redis and Postgres keep only
/// its SHA-256.
public enum APIKey {
    /// A new random key.
    public static func generate() -> String { "sbr_" + Hex.random(bytes: 24) }

    /// The hex SHA-256 of a key: what is stored instead of the key.
    public static func hash(_ apiKey: String) -> String {
        Hex.encode(SHA256.hash(data: Data(apiKey.utf8)))
    }
}
