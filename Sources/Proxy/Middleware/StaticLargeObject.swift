import HTTPServerKit
import NimbusCore

/// `slo`: static large objects. `PUT ?multipart-manifest=put` stores a manifest of segments
/// (checked against the segments) that the proxy server writes; `DELETE
/// ?multipart-manifest=delete` deletes the manifest and its segments; GET and HEAD of a
/// manifest serve the segments' bytes as one object (the code is in `LargeObjects/`).
struct StaticLargeObject: Middleware {
    var info: [String: Any] {
        ["slo": ["max_manifest_segments": ObjectProxy.maxManifestSegments, "max_manifest_size": ObjectProxy.maxManifestSize,
                 "min_segment_size": 1, "yield_frequency": ObjectProxy.sloYieldFrequency]]
    }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard let path = env.objectPath else { return try await next(request, env) }
        let manifestQuery = try? request.queryValue("multipart-manifest")
        switch request.method {
        case "PUT", "POST":
            if request.header("x-static-large-object") != nil && !(request.method == "PUT" && manifestQuery == "put") {
                throw HTTPError.badRequest("X-Static-Large-Object is a reserved header. To create a static large object add query param multipart-manifest=put.")
            }
            if request.method == "PUT" && manifestQuery == "put" { env.scope.writer = .sloManifest }
        case "DELETE" where manifestQuery == "delete":
            _ = try await env.authorize(request)
            return try await env.objects.deleteSLO(request, path)
        case "GET", "HEAD":
            env.scope.enable(.slo)
        default:
            break
        }
        return try await next(request, env)
    }
}
