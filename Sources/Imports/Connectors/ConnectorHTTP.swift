import Basics
import Foundation
import Curl
import Queue

/// The HTTP exchange every connector makes: JSON in and out, statuses mapped to the queue's
/// error classes (429 → rate limited with Retry-After, 5xx → retryable, 401/403 → fatal), 404
/// answered as nil (vendors use it for "nothing here").
struct ConnectorHTTP: Sendable {
    let http: HTTPClient
    let vendor: String
    let headers: [(String, String)]

    func json(_ method: String, _ url: String, body: JSONValue? = nil) async throws -> JSONValue? {
        var request = HTTPRequest(method: method, url: url, headers: headers + [("Accept", "application/json")])
        if let body {
            request.body = Array(try JSONEncoder().encode(body))
            request.headers.append(("Content-Type", "application/json"))
        }
        let path = URL(string: url)?.path ?? url
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch let error as HTTPClientError {
            throw JobFailure(error.isPermanent ? .fatal : .retryable, "\(vendor) \(path): \(error)")
        }
        if response.status == 404 { return nil }
        if let failure = JobFailure(httpStatus: response.status, retryAfterMs: response.retryAfterMs, context: "\(vendor) \(path)") {
            throw failure
        }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)) else {
            throw JobFailure(.retryable, "\(vendor) \(path): response is not JSON")
        }
        return value
    }

    /// A number a vendor sent as a number (fractions cut toward zero) or as text; nil for anything
    /// else and for values out of Int's range (NaN, infinities, 1e20), never a trap.
    static func int(_ value: JSONValue?) -> Int? {
        switch value {
        case .int(let i): return i
        case .double(let d): return UntrustedNumber.int(d)
        case .string(let s): return Int(s)
        default: return nil
        }
    }
}
