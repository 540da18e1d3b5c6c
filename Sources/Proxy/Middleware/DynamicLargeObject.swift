import HTTPServerKit
import NimbusCore

/// `dlo`: GET and HEAD of an object with `X-Object-Manifest: container/prefix` serve, as one
/// object, the objects of that container whose names start with the prefix, in order.
struct DynamicLargeObject: Middleware {
    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        if request.method == "GET" || request.method == "HEAD", env.objectPath != nil { env.scope.enable(.dlo) }
        return try await next(request, env)
    }
}
