import Foundation
import RoutingCore
import Vault

/// What a router needs for live Braze lookups without Postgres: the tenant's Braze base URL and
/// REST key, sealed by a master key in Redis (`RoutingKeys.brazeAccess`). Written by whoever sets
/// the Braze integration, opened by the router.
public struct BrazeAccess: Sendable, Codable, Equatable {
    public let url: String
    public let apiKey: String

    public init(url: String, apiKey: String) {
        self.url = url
        self.apiKey = apiKey
    }

    /// The credentials document of a Braze integration: `{"apiKey": "…", "webhookToken": "…"}`.
    public struct Credentials: Sendable, Codable, Equatable {
        public let apiKey: String
        public let webhookToken: String?

        /// Reads the document, or says what it must look like.
        public static func parse(_ text: String) throws -> Credentials {
            guard let parsed = try? JSONDecoder().decode(Credentials.self, from: Data(text.utf8)), !parsed.apiKey.isEmpty else {
                throw RoutingError(.invalidInput, "Braze credentials must be JSON like {\"apiKey\": \"…\", \"webhookToken\": \"…\"}")
            }
            return parsed
        }
    }

    /// The sealed form stored in Redis.
    public func seal(tenant: String, keyRing: MasterKeyRing) throws -> String {
        try keyRing.sealDirect(String(decoding: try JSONEncoder().encode(self), as: UTF8.self), context: "braze:\(tenant)")
    }

    /// Opens what `seal` made; nil when it is not a Braze access document.
    public static func open(_ sealed: String, tenant: String, keyRing: MasterKeyRing) throws -> BrazeAccess? {
        try? JSONDecoder().decode(BrazeAccess.self, from: Data(keyRing.openDirect(sealed, context: "braze:\(tenant)").utf8))
    }
}
