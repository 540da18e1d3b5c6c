import HTTPServerKit
import NimbusCore

/// `formpost`: a browser's `multipart/form-data` POST to a container, signed with the account's
/// or container's `Temp-URL-Key`, uploads its files as objects (see `FormPostUpload`).
struct FormPost: Middleware {
    var info: [String: Any] {
        ["formpost": ["allowed_digests": TempURLSignature.digests.keys.sorted(), "deprecated_digests": ["sha1"]]]
    }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard let path = try? env.path(), path.container != nil, let boundary = FormPostUpload.boundary(request) else {
            return try await next(request, env)
        }
        return try await FormPostUpload(context: env.context).handle(request, path, boundary: boundary)
    }
}
