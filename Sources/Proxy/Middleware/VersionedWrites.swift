import HTTPServerKit
import NimbusCore

/// `versioned_writes`: in a container with `X-Versions-Location` (stack) or
/// `X-History-Location` (history), an object PUT first copies the current object into the
/// versions container, and a DELETE restores the previous version (stack mode) or leaves a
/// delete marker (history mode). See `VersionHistory`.
struct VersionedWrites: Middleware {
    var info: [String: Any] { ["versioned_writes": ["allowed_flags": ["x-versions-location", "x-history-location"]]] }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard let path = env.objectPath else { return try await next(request, env) }
        switch request.method {
        case "PUT":
            _ = try await env.authorize(request)
            try await env.objects.archiveBeforeWrite(path, txid: env.txid)
        case "DELETE":
            _ = try await env.authorize(request)
            if let response = try await env.objects.versionedDelete(request, path) { return response }
        default:
            break
        }
        return try await next(request, env)
    }
}
