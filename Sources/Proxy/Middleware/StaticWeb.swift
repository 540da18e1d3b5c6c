import HTTPServerKit
import NimbusCore

/// `staticweb`: anonymous GET/HEAD (or `X-Web-Mode: true`) of a container with web settings
/// serves index pages, listings and error pages (see `StaticWebSite`).
struct StaticWeb: Middleware {
    var info: [String: Any] { ["staticweb": [String: Any]()] }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard let path = try? env.path(), StaticWebSite.applies(request, path, identity: env.identity) else {
            return try await next(request, env)
        }
        let site = StaticWebSite(context: env.context, identity: env.identity)
        // A container's pages answer for themselves (their own ACL checks); an object is read
        // only when the requester may read it.
        if path.object != nil { _ = try await env.authorize(request) }
        if let response = try await site.handle(request, path) { return response }
        return try await next(request, env)
    }
}
