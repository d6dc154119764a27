import Crypto
import Foundation

/// The master keys from configuration, by id, and which one wraps new data keys.
///
/// SB_MASTER_KEYS="k2:<base64 32 bytes>,k1:<base64 32 bytes>" and SB_MASTER_KEY_ID=k2. Old keys stay
/// listed until `switchboard keys rotate` has re-wrapped every tenant's data key with the active one.
public struct MasterKeyRing: Sendable {
    public let activeId: String
    /// Raw key bytes (swift-crypto's SymmetricKey is not Sendable); a SymmetricKey is made per use.
    private let keys: [String: [UInt8]]

    /// Parses the two settings; every key must be 32 bytes (AES-256).
    public init(keys text: String, activeId: String) throws {
        var keys: [String: [UInt8]] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { throw VaultError("SB_MASTER_KEYS: entries must look like id:base64key") }
            guard let bytes = Data(base64Encoded: String(parts[1])), bytes.count == 32 else {
                throw VaultError("SB_MASTER_KEYS: key '\(parts[0])' must be 32 bytes, base64-encoded")
            }
            keys[String(parts[0])] = Array(bytes)
        }
        guard keys[activeId] != nil else { throw VaultError("SB_MASTER_KEY_ID=\(activeId) is not among SB_MASTER_KEYS") }
        self.keys = keys
        self.activeId = activeId
    }

    /// Seals a small secret directly with the active master key, bound to `context` (for secrets a
    /// process without Postgres needs, such as the router's per-tenant voice token). The result
    /// ("keyId:base64") names its key, so it still opens after a new key becomes active.
    public func sealDirect(_ plaintext: String, context: String) throws -> String {
        let sealed = try AES.GCM.seal(Data(plaintext.utf8), using: try key(activeId), authenticating: Data(context.utf8))
        return activeId + ":" + sealed.combined!.base64EncodedString()
    }

    /// Whether `sealDirect` made `sealedText` with the active key (no re-sealing needed after a rotation).
    public func isSealedByActiveKey(_ sealedText: String) -> Bool {
        sealedText.split(separator: ":", maxSplits: 1).first.map(String.init) == activeId
    }

    /// Opens what `sealDirect` produced for the same context.
    public func openDirect(_ sealedText: String, context: String) throws -> String {
        let parts = sealedText.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let combined = Data(base64Encoded: String(parts[1])) else { throw VaultError("sealed secret is malformed") }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            return String(decoding: try AES.GCM.open(box, using: try key(String(parts[0])), authenticating: Data(context.utf8)), as: UTF8.self)
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError("cannot open a sealed secret: wrong key or tampered data")
        }
    }

    /// From the two settings as the environment gives them: SB_MASTER_KEY_ID unset means the
    /// first key listed.
    public init(keys text: String, activeIdSetting: String?) throws {
        try self.init(keys: text, activeId: activeIdSetting ?? text.split(separator: ":").first.map(String.init) ?? "")
    }

    /// A fresh random key in the form SB_MASTER_KEYS takes ("id:base64").
    public static func generateEntry(id: String) -> String {
        "\(id):" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    func key(_ id: String) throws -> SymmetricKey {
        guard let key = keys[id] else { throw VaultError("master key '\(id)' is not configured (SB_MASTER_KEYS)") }
        return SymmetricKey(data: key)
    }

    /// Wraps a tenant data key with the active master key.
    func wrap(_ dataKey: SymmetricKey) throws -> (keyId: String, wrapped: String) {
        let sealed = try AES.GCM.seal(dataKey.withUnsafeBytes { Data($0) }, using: try key(activeId))
        return (activeId, sealed.combined!.base64EncodedString())
    }

    /// Unwraps a data key wrapped with master key `keyId`.
    func unwrap(_ wrapped: String, keyId: String) throws -> SymmetricKey {
        guard let combined = Data(base64Encoded: wrapped) else { throw VaultError("wrapped data key is not base64") }
        do {
            return SymmetricKey(data: try AES.GCM.open(AES.GCM.SealedBox(combined: combined), using: try key(keyId)))
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError("cannot unwrap a data key with master key '\(keyId)': wrong key or tampered data")
        }
    }
}

/// A failure to encrypt or decrypt; never carries secret material.
public struct VaultError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
