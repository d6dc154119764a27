import Basics
import Hummingbird
import Imports
import Logging
import Observability
import Postgres
import Redis
import RoutingCore

/// What every admin API route of the console shares: the bearer token check and the one place
/// that turns domain errors into HTTP answers. Answers never carry SQL, driver or decoder
/// internals: those go to the log.
struct ConsoleGuard: Sendable {
    let token: String
    static let logger = Logger(label: "switchboard.console")

    /// Wraps a route's work: 401 without the token; errors mapped by `mapped`.
    func handle(_ work: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response)
        -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { request, context in
            do {
                guard request.headers[.authorization] == "Bearer \(token)" else {
                    throw JSONFailure(.unauthorized, "missing or wrong bearer token")
                }
                return try await work(request, context)
            } catch { throw Self.mapped(error, request.uri.path) }
        }
    }

    /// Domain errors as HTTP: input errors 4xx with their message; store failures 503 and other
    /// surprises 500, with a generic message (the details are logged).
    static func mapped(_ error: any Error, _ path: String) -> any Error {
        switch error {
        case let e as JSONFailure: return e
        case let e as HTTPError where e.status.code < 500: return e
        case let e as ImportError:
            switch e.code {
            case .invalidInput, .unknownPlatform, .invalidCredentials: return JSONFailure(.badRequest, e.message)
            case .notFound: return JSONFailure(.notFound, e.message)
            case .conflict: return JSONFailure(.conflict, e.message)
            }
        case let e as RoutingError:
            switch e.code {
            case .invalidInput: return JSONFailure(.badRequest, e.message)
            case .unknownDialer, .invalidRules: return JSONFailure(.unprocessableContent, e.message)
            }
        case let e as RedisError:
            logger.error("redis failed", metadata: ["path": "\(path)", "error": "\(e)"])
            return JSONFailure(.serviceUnavailable, "Redis unavailable; try again")
        case let e as PostgresError:
            logger.error("postgres failed", metadata: ["path": "\(path)", "error": "\(e)"])
            if e.code != .connection, let state = e.sqlState, state.hasPrefix("22") {
                return JSONFailure(.badRequest, "a value in the request is out of range or malformed")
            }
            return JSONFailure(.serviceUnavailable, "database unavailable; try again")
        default:
            logger.error("request failed", metadata: ["path": "\(path)", "error": "\(error)"])
            return JSONFailure(.internalServerError, "internal error; see the console log")
        }
    }
}
