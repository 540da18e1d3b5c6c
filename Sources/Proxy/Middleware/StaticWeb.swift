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
        guard let response = try await site.handle(request, path) else { return try await next(request, env) }
        // An object is read as the proxy server reads it in Swift (staticweb calls the app
        // there), so it carries the container's CORS headers; a generated page does not.
        return path.object != nil ? await CORS(context: env.context).decorate(response, request, path) : response
    }
}
