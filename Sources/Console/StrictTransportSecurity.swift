import Hummingbird

/// Tells browsers to reach the console over HTTPS only, for a year (`Strict-Transport-Security`),
/// on every answer the routes give; added when the console serves TLS.
struct StrictTransportSecurity<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        return response
    }
}
