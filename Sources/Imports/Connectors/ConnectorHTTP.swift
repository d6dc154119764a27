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

    func json(_ method: String, _ url: String, body: Any? = nil) async throws -> Any? {
        var request = HTTPRequest(method: method, url: url, headers: headers + [("Accept", "application/json")])
        if let body {
            request.body = Array(try JSONSerialization.data(withJSONObject: body))
            request.headers.append(("Content-Type", "application/json"))
        }
        let path = URL(string: url)?.path ?? url
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch let error as HTTPClientError {
            throw JobFailure(error.code == .invalidRequest ? .fatal : .retryable, "\(vendor) \(path): \(error)")
        }
        if response.status == 404 { return nil }
        if let failure = JobFailure(httpStatus: response.status, retryAfterMs: response.retryAfterMs, context: "\(vendor) \(path)") {
            throw failure
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) else {
            throw JobFailure(.retryable, "\(vendor) \(path): response is not JSON")
        }
        return object
    }

    static func int(_ value: Any?) -> Int? {
        if let i = value as? Int { return i }
        if let d = value as? Double { return Int(exactly: d.rounded(.towardZero)) } // NaN, infinities, huge values: nil, never a trap
        if let s = value as? String { return Int(s) }
        return nil
    }
}
