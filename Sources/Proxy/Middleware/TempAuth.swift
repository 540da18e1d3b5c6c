import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// `tempauth`: `GET /auth/v1.0` with a user and key hands out a token and the storage URL;
/// a request's `X-Auth-Token` (tempauth's, or Keystone's when the proxy is given a Keystone)
/// becomes its identity, and from here on requests are authorized by tempauth's rules
/// (`Authorizer`: owners, ACLs). An unknown token is refused at once.
struct TempAuth: Middleware {
    static let authPaths: Set<String> = ["/auth/v1.0", "/auth/v1.0/", "/v1.0", "/v1.0/", "/auth/v1", "/auth/v1/"]

    var info: [String: Any] { ["tempauth": ["account_acls": true]] }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        if Self.authPaths.contains(request.path) { return try await authenticate(request, env.context) }
        env.authorizes = true
        // A temp URL's identity stands; a CORS preflight is answered without one; a path
        // outside `/v1/…` (`/info`, or one the proxy server refuses) goes on as it is, as in
        // Swift, whose clients send their token to `/info` too.
        if env.identity == nil, request.method != "OPTIONS", case .success(let path) = env.parsedPath,
           let token = request.header("x-auth-token") ?? request.header("x-storage-token") {
            let known = env.context.auth.validate(token)
            let fromKeystone = known == nil ? await env.context.keystone?.validate(token, logger: env.logger) : nil
            guard let identity = known ?? fromKeystone else { throw Self.unauthorized(path.account) }
            env.identity = identity
        }
        return try await next(request, env)
    }

    static func unauthorized(_ account: String) -> HTTPError {
        HTTPError.standard(401, headers: [("WWW-Authenticate", "Swift realm=\"\(PercentCoding.encodePath(account))\"")])
    }

    /// `GET /auth/v1.0` with `X-Auth-User`/`X-Auth-Key` (or `X-Storage-User`/`X-Storage-Pass`).
    func authenticate(_ request: HTTPRequest, _ context: ProxyContext) async throws -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else { throw HTTPError(405, "Method not allowed") }
        guard let user = request.header("x-auth-user") ?? request.header("x-storage-user"),
              let key = request.header("x-auth-key") ?? request.header("x-storage-pass") else {
            throw HTTPError(401, "Unauthorized: X-Auth-User and X-Auth-Key are required",
                            headers: [("WWW-Authenticate", "Swift realm=\"unknown\"")])
        }
        guard let (token, expires, u) = await context.auth.authenticate(user: user, key: key) else {
            throw HTTPError(401, "Unauthorized: invalid credentials", headers: [("WWW-Authenticate", "Swift realm=\"unknown\"")])
        }
        let base: String
        let scheme = context.config.server.isTLS ? "https" : "http"
        if let host = request.header("host") {
            base = "\(scheme)://\(host)"
        } else {
            base = context.config.publicURL ?? "\(scheme)://\(context.config.host):\(context.config.port)"
        }
        let url = "\(base)/v1/\(u.storageAccount)"
        var headers = HTTPHeaders()
        headers.add(name: "X-Storage-Url", value: url)
        headers.add(name: "X-Auth-Token", value: token)
        headers.add(name: "X-Storage-Token", value: token)
        headers.add(name: "X-Auth-Token-Expires", value: String(Int(expires - context.clock.now())))
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        let body = "{\"storage\": {\"default\": \"local\", \"local\": \"\(url)\"}}"
        return HTTPResponse(status: 200, headers: headers, body: .bytes(ByteBuffer(string: body)))
    }
}
