import HTTPServerKit
import NimbusCore
import NIOHTTP1

/// `gatekeeper`: headers only the cluster itself may set never come in from a client, and
/// never go out to one — `X-Backend-*` and system metadata (`X-*-Sysmeta-*`) — and a client's
/// `X-Timestamp` is not trusted (Swift's `shunt_inbound_x_timestamp`). Header values longer
/// than the constraint are refused here, before any stage acts on them.
struct Gatekeeper: Middleware {
    let shuntTimestamp: Bool

    init(options: [String: String]) {
        shuntTimestamp = options["shunt_inbound_x_timestamp"].map(ObjectProxy.isTrue) ?? true
    }

    static func isInternal(_ lowercased: String) -> Bool {
        if lowercased.hasPrefix("x-backend-") { return true }
        // `-sysmeta-` anywhere (transient sysmeta too), searched in the bytes: Foundation's
        // `contains` cost more than the rest of this stage on every header of every request.
        guard lowercased.hasPrefix("x-") else { return false }
        let needle = "-sysmeta-".utf8
        var rest = lowercased.utf8[...]
        while rest.count >= needle.count {
            if rest.starts(with: needle) { return true }
            rest = rest.dropFirst()
        }
        return false
    }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        let limit = env.context.constraints.maxHeaderSize
        var cleaned: HTTPHeaders?
        for (name, value) in request.headers {
            if value.utf8.count > limit { throw HTTPError.badRequest("Header value too long: \(name.prefix(64))") }
            let l = name.lowercased()
            if Self.isInternal(l) || (shuntTimestamp && l == "x-timestamp") {
                if cleaned == nil { cleaned = request.headers }
                cleaned?.remove(name: name)
            }
        }
        var response = try await next(cleaned.map { request.with(headers: $0) } ?? request, env)
        for (name, _) in response.headers where Self.isInternal(name.lowercased()) {
            response.headers.remove(name: name)
        }
        return response
    }
}
