import Hummingbird
import Observability

/// What every admin API route of the console shares: the bearer token check and one place that
/// turns domain errors into HTTP answers.
struct ConsoleGuard: Sendable {
    let token: String
    let mapped: @Sendable (Error) -> Error

    /// Wraps a route's work: 401 without the token; domain errors mapped by `mapped`.
    func handle(_ work: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response)
        -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { request, context in
            do {
                guard request.headers[.authorization] == "Bearer \(token)" else {
                    throw JSONFailure(.unauthorized, "missing or wrong bearer token")
                }
                return try await work(request, context)
            } catch { throw mapped(error) }
        }
    }
}
