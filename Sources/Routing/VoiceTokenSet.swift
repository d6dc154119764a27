import Foundation
import Vault

/// The voice tokens a tenant's webhooks may be signed with right now, as the router reads them
/// from Redis (`RoutingKeys.voiceTokens`), sealed by a master key: the current token and, during
/// a rotation's overlap, the ones it replaces with the time they stop (ms since 1970).
public struct VoiceTokenSet: Sendable, Codable, Equatable {
    /// One token and when it stops being accepted (nil: until replaced or revoked).
    public struct Token: Sendable, Codable, Equatable {
        public let token: String
        public let until: Int64?

        public init(token: String, until: Int64?) {
            self.token = token
            self.until = until
        }
    }

    public let tokens: [Token]

    public init(tokens: [Token]) { self.tokens = tokens }

    /// The tokens still accepted at `nowMs`.
    public func live(atMs nowMs: Int64) -> [String] {
        tokens.filter { $0.until.map { $0 > nowMs } ?? true }.map(\.token)
    }

    /// The sealed form stored in Redis.
    public func seal(tenant: String, keyRing: MasterKeyRing) throws -> String {
        try keyRing.sealDirect(String(decoding: try JSONEncoder().encode(self), as: UTF8.self), context: "voice:\(tenant)")
    }

    /// Opens what `seal` made; a single token sealed before sets existed reads as a set of one.
    public static func open(_ sealed: String, tenant: String, keyRing: MasterKeyRing) throws -> VoiceTokenSet {
        let text = try keyRing.openDirect(sealed, context: "voice:\(tenant)")
        if text.hasPrefix("{"), let set = try? JSONDecoder().decode(VoiceTokenSet.self, from: Data(text.utf8)) { return set }
        return VoiceTokenSet(tokens: [Token(token: text, until: nil)])
    }
}
