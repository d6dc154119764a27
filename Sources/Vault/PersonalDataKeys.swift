import Basics
import Crypto
import Foundation

/// A tenant's keys for personal data (caller numbers, lead fields, call chains), derived from
/// its data key with HKDF-SHA256: one to seal (AES-256-GCM, bound to the tenant), one for the
/// blind index (HMAC-SHA256 of a normalised value, so a phone number can be found without being
/// stored). Derived once, when a tenant's first audit row is written; then kept wrapped by the
/// tenant's current data key (`tenant_personal_keys`), so rotating the data key re-wraps them and
/// the immutable audit rows stay readable and findable.
public struct PersonalDataKeys: Sendable {
    public let tenant: String
    private let sealing: [UInt8]
    private let indexing: [UInt8]
    private let prepared: Prepared

    /// The keys made ready once (the router seals, opens and indexes on every call): never
    /// changed after init, so sharing them across threads is safe though swift-crypto does not
    /// mark its types Sendable.
    private final class Prepared: @unchecked Sendable {
        let sealing: SymmetricKey
        let indexing: HMAC<SHA256>
        let tenant: [UInt8]
        init(sealing: [UInt8], indexing: [UInt8], tenant: String) {
            self.sealing = SymmetricKey(data: sealing)
            self.indexing = HMAC<SHA256>(key: SymmetricKey(data: indexing))
            self.tenant = Array(tenant.utf8)
        }
    }

    /// The two keys as stored (wrapped).
    public init(tenant: String, sealing: [UInt8], indexing: [UInt8]) {
        self.tenant = tenant
        self.sealing = sealing
        self.indexing = indexing
        self.prepared = Prepared(sealing: sealing, indexing: indexing, tenant: tenant)
    }

    /// Both keys, sealing then indexing (what is wrapped).
    var material: [UInt8] { sealing + indexing }

    /// Both keys as base64, for a copy sealed elsewhere (the routers' copy in Redis).
    public func exported() -> String { Data(material).base64EncodedString() }

    /// The keys `exported()` gave.
    public init(tenant: String, exported: String) throws {
        guard let bytes = Data(base64Encoded: exported), bytes.count == 64 else { throw VaultError("personal-data keys of \(tenant) are malformed") }
        self.init(tenant: tenant, sealing: Array(bytes.prefix(32)), indexing: Array(bytes.suffix(32)))
    }

    /// Derives both keys from the tenant's data key bytes.
    public init(tenant: String, dataKey: [UInt8]) {
        let key = SymmetricKey(data: dataKey)
        func derive(_ info: String) -> [UInt8] {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: key, salt: Array(tenant.utf8), info: Array(info.utf8), outputByteCount: 32)
                .withUnsafeBytes { Array($0) }
        }
        self.init(tenant: tenant, sealing: derive("switchboard personal data v1"), indexing: derive("switchboard blind index v1"))
    }

    /// `plaintext` sealed: base64 of nonce, ciphertext and tag.
    public func seal(_ plaintext: String) throws -> String {
        try seal(bytes: Array(plaintext.utf8))
    }

    /// UTF-8 `plaintext` sealed: base64 of nonce, ciphertext and tag (what `open` reads).
    public func seal(bytes plaintext: [UInt8]) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: prepared.sealing, authenticating: prepared.tenant)
        return box.combined!.base64EncodedString()
    }

    /// Opens what `seal` produced.
    public func open(_ sealed: String) throws -> String {
        String(decoding: try openBytes(sealed), as: UTF8.self)
    }

    /// Opens what `seal` produced, as bytes.
    public func openBytes(_ sealed: String) throws -> Data {
        guard let combined = Data(base64Encoded: sealed) else { throw VaultError("sealed personal data is not base64") }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            return try AES.GCM.open(box, using: prepared.sealing, authenticating: prepared.tenant)
        } catch {
            throw VaultError("cannot open personal data of tenant \(tenant): wrong key or tampered data")
        }
    }

    /// The blind index of a normalised value (an E.164 number): 32 hex digits of its HMAC.
    public func index(_ value: String) -> String {
        var indexer = indexer()
        return indexer.index(value)
    }

    /// A blind-index maker for many values in a row: the HMAC key schedule is done once.
    public func indexer() -> BlindIndexer { BlindIndexer(prepared: prepared.indexing) }

    /// Makes blind indexes with one prepared HMAC key (not for sharing across tasks).
    public struct BlindIndexer {
        private let prepared: HMAC<SHA256>

        init(prepared: HMAC<SHA256>) { self.prepared = prepared }

        /// The blind index of `value`: the first 16 bytes of its HMAC-SHA256, as 32 hex digits.
        public mutating func index(_ value: String) -> String {
            var mac = prepared
            var value = value
            value.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
            return mac.finalize().withUnsafeBytes { Hex.encode(UnsafeRawBufferPointer(rebasing: $0.prefix(16))) }
        }
    }
}
