import Foundation
import Curl

/// One call as a connector hands it over, in our units.
public struct ImportedCall: Sendable, Equatable {
    public var externalId: String
    public var title: String?
    public var startedAt: Date?
    public var durationSeconds: Int?
    public var direction: String?
    public var recordingURL: String?
    public var participants: [Participant]
    /// Nil when the platform delivers transcripts separately (`CallConnector.transcriptBatchSize` > 0).
    public var transcript: [TranscriptSegment]?
}

/// A person on a call.
public struct Participant: Sendable, Equatable {
    public var name: String?
    public var email: String?
    public var title: String?
    public var affiliation: String?
    /// The platform's id for this person's voice in the transcript.
    public var speakerId: String?
}

/// One stretch of speech: speaker, start and end in milliseconds from the call's start, text.
public struct TranscriptSegment: Sendable, Equatable {
    public var speaker: String?
    public var startMs: Int
    public var endMs: Int
    public var text: String
}

/// A page of a listing and the cursor of the next one (nil on the last page).
public struct ImportPage: Sendable {
    public var calls: [ImportedCall]
    public var nextCursor: String?
}

/// What the import pipeline needs from a platform. Every method is one API request, so the
/// fleet-wide limiter (one job = one request) holds the platform's rate limit.
public protocol CallConnector: Sendable {
    /// Proves the credentials and counts the calls in [from, to): the cheap validation call.
    /// 0 when there are none; nil when there are some but the platform gives no count.
    func countCalls(from: Date, to: Date) async throws -> Int?
    /// One page of calls (metadata, participants, recording URL; transcripts when inline).
    func page(from: Date, to: Date, cursor: String?) async throws -> ImportPage
    /// Calls per transcript request; 0 when transcripts come with the page.
    var transcriptBatchSize: Int { get }
    /// Transcripts of up to `transcriptBatchSize` calls, by external id (speaker = platform speaker id).
    func transcripts(from: Date, to: Date, callIds: [String]) async throws -> [String: [TranscriptSegment]]
}

/// Base URLs of the platforms (configuration, so tests point them at the simulators) and the
/// HTTP client the connectors share.
public struct ConnectorSettings: Sendable {
    public var gongBaseURL: String
    public var fathomBaseURL: String
    public var grainBaseURL: String
    public var http: HTTPClient

    public init(gongBaseURL: String = "https://api.gong.io", fathomBaseURL: String = "https://api.fathom.ai/external/v1",
                grainBaseURL: String = "https://api.grain.com/_/public-api", http: HTTPClient) {
        self.gongBaseURL = gongBaseURL
        self.fathomBaseURL = fathomBaseURL
        self.grainBaseURL = grainBaseURL
        self.http = http
    }

    /// The connector for a platform with opened credentials (a `baseUrl` field overrides the default).
    public func connector(platform: String, credentials: [String: String]) throws -> any CallConnector {
        switch platform {
        case "gong":
            return GongConnector(baseURL: credentials["baseUrl"] ?? gongBaseURL, accessKey: credentials["accessKey"] ?? "",
                                 accessKeySecret: credentials["accessKeySecret"] ?? "", http: http)
        case "fathom":
            return FathomConnector(baseURL: credentials["baseUrl"] ?? fathomBaseURL, apiKey: credentials["apiKey"] ?? "", http: http)
        case "grain":
            return GrainConnector(baseURL: credentials["baseUrl"] ?? grainBaseURL, token: credentials["token"] ?? "", http: http)
        default:
            throw ImportError(.invalidInput, "no connector for platform '\(platform)' yet")
        }
    }
}
