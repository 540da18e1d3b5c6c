import HTTPServerKit
import NimbusCore

/// The proxy's front door: every request goes through the pipeline of stages configured in
/// `[pipeline:main]` (see `Pipeline`), the proxy server last.
struct ProxyHandler: HTTPHandler {
    /// Errors as OpenStack Swift shows them (for what escapes a pipeline without `catch_errors`).
    func errorResponse(_ error: HTTPError) -> HTTPResponse { .swiftError(error) }

    let context: ProxyContext
    let pipeline: Pipeline

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await pipeline.handle(request, context: context)
    }
}
