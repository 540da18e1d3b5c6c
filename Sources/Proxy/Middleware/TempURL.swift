import HTTPServerKit
import NimbusCore

/// `tempurl`: an object request signed with one of the account's or container's
/// `Temp-URL-Key`s (`temp_url_sig`, `temp_url_expires`) acts without a token, within the
/// account (or container) of its key; the response loses the headers a temp URL must not show.
/// Take it out of the pipeline and signed URLs are refused like any request without a token.
struct TempURL: Middleware {
    /// Methods a temp URL may be signed for (`methods`).
    let methods: [String]

    init(options: [String: String]) throws {
        let configured = options["methods"]?.split(separator: " ").map { String($0).uppercased() }
        methods = configured ?? TempURLSignature.methods.sorted()
        if let unknown = methods.first(where: { !TempURLSignature.methods.contains($0) }) {
            throw PipelineConfig.ConfigError(description: "[filter:tempurl] methods: \(unknown) is not one of "
                + TempURLSignature.methods.sorted().joined(separator: " "))
        }
    }

    var info: [String: Any] {
        ["tempurl": ["methods": methods, "allowed_digests": TempURLSignature.digests.keys.sorted(),
                     "deprecated_digests": ["sha1"], "incoming_remove_headers": ["x-timestamp"], "incoming_allow_headers": [String](),
                     "outgoing_remove_headers": ["x-object-meta-*"], "outgoing_allow_headers": ["x-object-meta-public-*"]]]
    }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        // A CORS preflight carries no signature worth checking (Swift's tempurl passes it on).
        guard request.method != "OPTIONS",
              let signature = TempURLSignature(query: (try? request.queryItems()) ?? [], now: env.context.clock.now()) else {
            return try await next(request, env)
        }
        guard methods.contains(request.method) else { throw TempURLSignature.invalid(request) }
        let path = try env.path()
        env.identity = try await signature.authorize(request, path, context: env.context)
        let response = try await next(request, env)
        return signature.outgoing(response, request: request, path: path)
    }
}
