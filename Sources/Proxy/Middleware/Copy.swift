import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// `copy`: `COPY /v1/a/c/o` with `Destination: c2/o2` (and `Destination-Account`) becomes, as
/// in Swift, a `PUT` of the destination with `X-Copy-From: /c/o`; the proxy server then writes
/// the source's bytes there, after the stages between (quotas, versioned writes) saw a PUT.
struct Copy: Middleware {
    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
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
        return try await next(put, env.rewritten(for: put))
    }
}
