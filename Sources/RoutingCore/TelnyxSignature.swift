import Crypto
import Foundation

/// Telnyx's webhook signature (TeXML requests too): Ed25519 by the account's key over
/// "<telnyx-timestamp>|<raw body>", base64 in `telnyx-signature-ed25519`; the account's public
/// key (base64, 32 bytes) verifies it. Timestamps more than `toleranceSeconds` away are refused
/// (replays).
public enum TelnyxSignature {
    /// True when `signature` is the account's signature of this body at this timestamp.
    public static func isValid(signature: String, timestamp: String, body: [UInt8], publicKey: String,
                               now: Date = Date(), toleranceSeconds: Double = 300) -> Bool {
        guard let seconds = Double(timestamp), abs(now.timeIntervalSince1970 - seconds) <= toleranceSeconds,
              let keyBytes = Data(base64Encoded: publicKey), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes),
              let signatureBytes = Data(base64Encoded: signature) else { return false }
        return key.isValidSignature(signatureBytes, for: Data(timestamp.utf8) + Data("|".utf8) + Data(body))
    }

    /// Whether `text` is a usable public key (base64 of 32 bytes).
    public static func isPublicKey(_ text: String) -> Bool {
        guard let bytes = Data(base64Encoded: text) else { return false }
        return (try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)) != nil
    }
}
