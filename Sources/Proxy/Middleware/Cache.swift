import HTTPServerKit
import NimbusCore

/// `cache`: account and container lookups may come from the proxy's short-lived shared cache
/// (OpenStack Swift keeps them in memcache for `recheck_*_existence` seconds). Without this
/// stage each request looks up afresh — once per request still, through its own scope.
struct Cache: Middleware {
    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        env.scope.usesSharedCache = true
        return try await next(request, env)
    }
}
