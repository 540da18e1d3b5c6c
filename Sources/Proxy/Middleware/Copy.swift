import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// `copy`: `COPY /v1/a/c/o` with `Destination: c2/o2` (and `Destination-Account`) becomes, as
/// in Swift, a `PUT` of the destination with `X-Copy-From: /c/o`; the proxy server then writes
/// the source's bytes there, after the stages between (quotas, versioned writes) saw a PUT.
struct Copy: Middleware {
    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        if request.method == "PUT", let copyFrom = request.header("x-copy-from"), let dest = env.objectPath {
            // As Swift's copy does, the source is looked at first: a missing source answers 404
            // before the destination's rights are checked by the stages after.
            let (container, object) = try ObjectProxy.splitCopyPath(copyFrom, header: "X-Copy-From")
            let account = try request.header("x-copy-from-account").map { try PercentCoding.decodeUTF8($0) } ?? dest.account
            let source = ObjectPath(account: account, container: container, object: object)
            _ = try await env.authorize("GET", source.swiftPath, referer: request.header("referer"))
            switch await env.objects.openRead(source, method: "HEAD", headers: env.context.backendHeaders(txid: env.txid)) {
            case .notFound: return .error(404)
            case .unavailable: break
            case .found(_, let conn):
                _ = try? await conn.readFullBody()
                env.context.client.release(conn)
            }
            return try await next(request, env)
        }
        guard request.method == "COPY", let source = env.objectPath else { return try await next(request, env) }
        guard let destination = request.header("destination") else {
            throw HTTPError.preconditionFailed("You must provide a Destination header")
        }
        let (container, object) = try ObjectProxy.splitCopyPath(destination, header: "Destination")
        let account = try request.header("destination-account").map { try PercentCoding.decodeUTF8($0) } ?? source.account
        var headers = request.headers
        headers.remove(name: "destination")
        headers.remove(name: "destination-account")
        headers.replaceOrAdd(name: "X-Copy-From", value: "/" + PercentCoding.encodePath(source.container, keepSlash: false)
            + "/" + PercentCoding.encodePath(source.object))
        if account != source.account {
            headers.replaceOrAdd(name: "X-Copy-From-Account", value: PercentCoding.encodePath(source.account, keepSlash: false))
        }
        if !headers.contains(name: "content-length") { headers.add(name: "Content-Length", value: "0") }
        let target = "/v1/" + PercentCoding.encodePath(account, keepSlash: false) + "/" + PercentCoding.encodePath(container, keepSlash: false)
            + "/" + PercentCoding.encodePath(object) + (request.query.isEmpty ? "" : "?" + request.query)
        let put = request.with(method: "PUT", uri: target, headers: headers)
        return try await handle(put, env.rewritten(for: put), next: next)
    }
}
