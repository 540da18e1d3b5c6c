import HTTPServerKit
import NimbusCore

/// `account-quotas`: a reseller admin sets `X-Account-Meta-Quota-Bytes`; an object PUT that
/// would pass it answers 413.
struct AccountQuotas: Middleware {
    var info: [String: Any] { ["account_quotas": [String: Any]()] }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard let path = try? env.path() else { return try await next(request, env) }
        if path.container == nil, request.method == "PUT" || request.method == "POST" {
            try Quotas.checkAccountHeaders(request.headers, identity: env.identity)
        } else if let object = env.objectPath, request.method == "PUT", request.header("x-copy-from") == nil {
            _ = try await env.authorize(request)
            try await Quotas.checkAccount(object, length: request.contentLength ?? 0, context: env.context, txid: env.txid)
        }
        return try await next(request, env)
    }
}
