import HTTPServerKit
import NimbusCore

/// `catch_errors`: whatever a later stage throws becomes the response a Swift proxy gives —
/// the error's status and one-line reason, or 500 for a failure nothing expected (logged with
/// the transaction id) — so the stages before it, `proxy-logging` among them, see a response.
struct CatchErrors: Middleware {
    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        do {
            return try await next(request, env)
        } catch let error as HTTPError {
            return .swiftError(error)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            env.logger.error("\(request.method) \(request.path) failed: \(error)")
            return .swiftError(HTTPError(500, "An error occurred"))
        }
    }
}
