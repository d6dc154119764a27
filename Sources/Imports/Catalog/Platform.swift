import Queue

/// One row of the Platform Support Matrix: what Switchboard can import from a vendor, how, at
/// what documented limits, and for what price. Loaded from `Platforms/<id>.json`.
public struct Platform: Sendable, Codable, Equatable {
    /// Whether and how calls can be imported from the platform.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case supported
        case inProgress = "in_progress"
        case notSupported = "not_supported"
        case manualUpload = "manual_upload"

        /// The words sales uses for it.
        public var label: String {
            switch self {
            case .supported: return "Supported"
            case .inProgress: return "In progress"
            case .notSupported: return "Not supported"
            case .manualUpload: return "Manual upload"
            }
        }
    }

    /// How the customer gives us access.
    public enum Method: String, Sendable, Codable {
        case api
        case oauth
        case fileExport = "file_export"

        public var label: String {
            switch self {
            case .api: return "API key"
            case .oauth: return "OAuth app"
            case .fileExport: return "File export"
            }
        }
    }

    /// Which call data the platform gives us.
    public struct Metadata: Sendable, Codable, Equatable {
        public let participants: Bool
        public let title: Bool
        public let duration: Bool
        public let transcript: Bool
        public let recording: Bool

        /// The available fields, in matrix order.
        public var available: [String] {
            [("participants", participants), ("title", title), ("duration", duration), ("transcript", transcript), ("recording", recording)]
                .filter(\.1).map(\.0)
        }
    }

    /// One kind of API request an import makes, and how many calls one request covers.
    public struct RequestStep: Sendable, Codable, Equatable {
        public let step: String
        public let callsPerRequest: Int
    }

    /// List price of an import (finance owns the numbers in the data files).
    public struct Price: Sendable, Codable, Equatable {
        public let currency: String
        public let setupFee: Double
        public let perCall: Double
        public let minimum: Double

        /// The price for `calls` calls.
        public func total(calls: Int) -> Double { max(minimum, setupFee + perCall * Double(calls)) }
    }

    public let id: String
    public let name: String
    public let status: Status
    public let method: Method
    public let auth: String
    public let metadata: Metadata
    /// The documented limit in our notation ("3/s,10000/d"); nil when the vendor documents none.
    public let rateLimit: String?
    public let rateLimitNotes: String
    public let requestsPerCall: [RequestStep]
    public let salesNotes: String
    /// Nil when the platform is not supported.
    public let price: Price?
    public let sources: [String]

    /// The limit the importer paces itself to: the documented one, or 1 request a second when
    /// the vendor documents none.
    public var pacing: RateLimit {
        (rateLimit.flatMap { try? RateLimit(parsing: $0) }) ?? RateLimit([RateWindow(limit: 1, windowMs: 1000)])
    }

    /// API requests an import of `calls` calls makes.
    public func requests(calls: Int) -> Int {
        requestsPerCall.reduce(0) { $0 + ($1.callsPerRequest > 0 ? (calls + $1.callsPerRequest - 1) / $1.callsPerRequest : 0) }
    }
}
