import HTTPServerKit
import NimbusCore

/// `symlink`: `PUT` with `X-Symlink-Target: container/object` (and `-Account`) stores a
/// symlink the proxy server writes; GET and HEAD follow symlinks (at most `symloop_max` in a
/// row) unless `?symlink=get` asks for the link itself.
struct Symlink: Middleware {
    let symloopMax: Int

    init(options: [String: String]) throws {
        if let text = options["symloop_max"] {
            guard let n = Int(text) else {
                throw PipelineConfig.ConfigError(description: "[filter:symlink] symloop_max = \(text): not a whole number")
            }
            // Swift falls back to its default below 1.
            symloopMax = n < 1 ? ObjectProxy.symloopMax : n
        } else {
            symloopMax = ObjectProxy.symloopMax
        }
    }

    var info: [String: Any] { ["symlink": ["symloop_max": symloopMax, "static_links": true]] }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard env.objectPath != nil else { return try await next(request, env) }
        switch request.method {
        case "PUT" where request.header("x-symlink-target") != nil:
            env.scope.writer = .symlink
        case "POST" where request.header("x-symlink-target") != nil:
            throw HTTPError(400, "A PUT request is required to set a symlink target", headers: [("Content-Type", "text/plain")])
        case "GET", "HEAD":
            env.scope.enable(.symlink)
            env.scope.symloopMax = symloopMax
        default:
            break
        }
        return try await next(request, env)
    }
}
