import Foundation

/// What a handler throws to say how its attempt failed. Any other error counts as `.retryable`.
public struct JobFailure: Error, CustomStringConvertible, Sendable {
    /// The error classes of the queue.
    public enum Code: Sendable, Equatable {
        /// Timeouts, 5xx, connection errors: retry with backoff.
        case retryable
        /// Bad credentials, malformed payload: no retry, straight to the dead set.
        case fatal
        /// 429: pause the key fleet-wide for this long; the attempt is not counted, and the key's
        /// rate is learned down (`LearnedRate`).
        case rateLimited(retryAfterMs: Int)
        /// The vendor has been down for this key for a while: pause the key fleet-wide for this long
        /// and try again, without counting the attempt (an outage is retried at a slow cadence until
        /// the work's own deadline, not until attempts run out).
        case unavailable(retryAfterMs: Int)
    }

    public let code: Code
    public let message: String
    /// The vendor's HTTP status when the failure came from one (401/403: its credentials).
    public let httpStatus: Int?

    public init(_ code: Code, _ message: String, httpStatus: Int? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
    }

    /// The vendor rejected the credentials (401/403): no request with them can succeed.
    public var rejectsCredentials: Bool { httpStatus == 401 || httpStatus == 403 }

    public var description: String { message }
}

extension JobFailure {
    /// Maps a vendor's HTTP status to the queue's error classes: nil for success, rate limited for
    /// 429 (waiting `Retry-After`, 1 s when absent), retryable for 408 and 5xx, fatal for other
    /// 4xx (401/403 are bad credentials: retrying cannot help).
    public init?(httpStatus status: Int, retryAfterMs: Int?, context: String) {
        switch status {
        case 200..<400: return nil
        case 429: self.init(.rateLimited(retryAfterMs: retryAfterMs ?? 1000), "\(context): 429 rate limited", httpStatus: status)
        case 408, 500...599: self.init(.retryable, "\(context): HTTP \(status)", httpStatus: status)
        case 401, 403: self.init(.fatal, "\(context): HTTP \(status), credentials rejected", httpStatus: status)
        default: self.init(.fatal, "\(context): HTTP \(status)", httpStatus: status)
        }
    }

    /// Decodes a job payload, failing the job for good (no retry can fix it) when it is malformed.
    public static func decode<T: Decodable>(_ type: T.Type, from payload: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(payload.utf8))
        } catch {
            throw JobFailure(.fatal, "malformed payload for \(T.self): \(error)")
        }
    }
}
