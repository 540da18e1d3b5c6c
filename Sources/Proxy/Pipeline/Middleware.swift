import HTTPServerKit

/// One stage of the proxy's pipeline: a filter of OpenStack Swift's `proxy-server.conf`.
///
/// A stage sees a request before the stages after it. It answers it itself, or passes it on
/// with `next` — changed, or as several sub-requests — and may change the response coming back.
/// Stages share what they learn about the request through its `RequestEnvironment`.
protocol Middleware: Sendable {
    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse

    /// What the stage adds to `/info` (Swift's `register_swift_info`), by key; empty for
    /// stages Swift does not list there.
    var info: [String: Any] { get }
}

extension Middleware {
    var info: [String: Any] { [:] }
}

/// The stages after one stage, ending with the proxy server.
struct Next: Sendable {
    let run: @Sendable (HTTPRequest, RequestEnvironment) async throws -> HTTPResponse

    func callAsFunction(_ request: HTTPRequest, _ env: RequestEnvironment) async throws -> HTTPResponse {
        try await run(request, env)
    }
}

/// Makes a stage from its `[filter:NAME]` options.
struct MiddlewareFactory: Sendable {
    let make: @Sendable (_ options: [String: String], _ context: ProxyContext) throws -> any Middleware

    init(_ make: @escaping @Sendable (_ options: [String: String], _ context: ProxyContext) throws -> any Middleware) {
        self.make = make
    }
}
