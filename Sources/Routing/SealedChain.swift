import Foundation
import Vault

/// An audit chain as it travels through the Redis audit stream: sealed, so the stream (and
/// Redis's append-only file) holds no caller number or lead field. One line per chain:
/// `~<tenant>~<sealed>` with the tenant's personal-data key (AES-256-GCM, bound to the tenant),
/// or `!<tenant>!<sealed>` with a master key (context `audit-chain:<tenant>`) when the router has
/// no personal-data keys for the tenant yet. A line in neither form is a plain chain (written
/// before chains were sealed) and is read as it is.
public enum SealedChain {
    /// `chain` (JSON bytes) sealed for the stream with the tenant's personal-data key.
    public static func seal(_ chain: [UInt8], personal: PersonalDataKeys) throws -> [UInt8] {
        Array("~\(personal.tenant)~".utf8) + Array(try personal.seal(bytes: chain).utf8)
    }

    /// `chain` sealed for the stream with the active master key.
    public static func seal(_ chain: [UInt8], tenant: String, keyRing: MasterKeyRing) throws -> [UInt8] {
        Array("!\(tenant)!".utf8) + Array(try keyRing.sealDirect(String(decoding: chain, as: UTF8.self), context: "audit-chain:" + tenant).utf8)
    }

    /// The tenant a sealed line names and how it was sealed; nil for a plain line.
    public static func parse(_ line: Substring.UTF8View) -> (tenant: String, byMasterKey: Bool, sealed: Substring)? {
        guard let first = line.first, first == UInt8(ascii: "~") || first == UInt8(ascii: "!") else { return nil }
        let rest = line.dropFirst()
        guard let end = rest.firstIndex(of: first) else { return nil }
        let text = Substring(line)
        return (String(Substring(rest[rest.startIndex..<end])), first == UInt8(ascii: "!"), text[text.utf8.index(after: end)...])
    }

    /// Opens one line (sealed or plain) with the personal-data keys in `keys` (by tenant) or the
    /// master keys; a line that does not open is returned as it is (the audit then quarantines it
    /// as unparsed, still sealed).
    public static func open(_ line: Substring, keyRing: MasterKeyRing, keys: [String: PersonalDataKeys]) -> String {
        guard let (tenant, byMasterKey, sealed) = parse(line.utf8) else { return String(line) }
        if byMasterKey { return (try? keyRing.openDirect(String(sealed), context: "audit-chain:" + tenant)) ?? String(line) }
        guard let personal = keys[tenant], let opened = try? personal.open(String(sealed)) else { return String(line) }
        return opened
    }
}

/// How a router seals a tenant's chains for the stream (see `SealedChain`): with the tenant's
/// personal-data keys, with a master key while it has none, or not at all on a router started
/// without master keys.
public enum ChainSealer: Sendable {
    case personal(PersonalDataKeys)
    case masterKey(MasterKeyRing)
    case none

    /// One stream line holding `chains` (one chain, or several of the tenant's separated by
    /// newlines), sealed; plain when sealing is off or fails.
    public func line(_ chains: [UInt8], tenant: String) -> [UInt8] {
        switch self {
        case .personal(let keys): return (try? SealedChain.seal(chains, personal: keys)) ?? chains
        case .masterKey(let ring): return (try? SealedChain.seal(chains, tenant: tenant, keyRing: ring)) ?? chains
        case .none: return chains
        }
    }
}
