import HTTPServerKit
import NimbusCore

/// `container-quotas`: a container's owner sets `X-Container-Meta-Quota-Bytes` / `-Quota-Count`;
/// an object PUT that would pass either answers 413. (A copy's size is known only once its
/// source is read: the proxy server checks it then.)
struct ContainerQuotas: Middleware {
    var info: [String: Any] { ["container_quotas": [String: Any]()] }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard let path = try? env.path(), path.container != nil else { return try await next(request, env) }
        if path.object == nil {
            if request.method == "PUT" || request.method == "POST" { try Quotas.checkContainerHeaders(request.headers) }
        } else if let object = env.objectPath, request.method == "PUT", request.header("x-copy-from") == nil {
            // Authorization first, as Swift's does: a stranger learns nothing from a 413.
            _ = try await env.authorize(request)
            try await Quotas.checkContainer(object, length: request.contentLength ?? 0, context: env.context, txid: env.txid)
        }
        return try await next(request, env)
    }
}
