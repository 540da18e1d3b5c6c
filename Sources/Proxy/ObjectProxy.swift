import HTTPClientKit
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore
import Ring

/// Object requests. PUT streams to every replica at once and answers when a quorum stored the
/// object; GET/HEAD read from the first replica that has it; POST and DELETE fan out.
struct ObjectProxy {
    let context: ProxyContext

    func handle(_ request: HTTPRequest, _ path: SwiftPath) async throws -> HTTPResponse {
        switch request.method {
        case "PUT": return try await put(request, path)
        case "GET", "HEAD": return try await read(request, path)
        case "POST": return try await post(request, path)
        case "DELETE": return try await delete(request, path)
        default: throw HTTPError(405, "Method Not Allowed")
        }
    }

    var objectPath: (SwiftPath) -> String { { "/\($0.account)/\($0.container!)/\($0.object!)" } }

    /// Validates `X-Delete-At` / `X-Delete-After` and returns the absolute expiry, if any.
    func deleteAt(_ request: HTTPRequest) throws -> Int64? {
        let now = context.clock.now()
        if let after = request.header("x-delete-after") {
            guard let secs = Int64(after), secs >= 0 else { throw HTTPError.badRequest("Non-integer X-Delete-After") }
            return Int64(now) + secs
        }
        if let at = request.header("x-delete-at") {
            guard let t = Int64(at) else { throw HTTPError.badRequest("Non-integer X-Delete-At") }
            guard Double(t) > now else { throw HTTPError.badRequest("X-Delete-At in past") }
            return t
        }
        return nil
    }

    /// Object metadata headers a client may set, to be stored with the object.
    func storedHeaders(_ request: HTTPRequest) -> [(String, String)] {
        request.headers.filter { name, _ in
            let l = name.lowercased()
            return UserMetadata.isStoredObjectHeader(l) && l != "x-delete-at" && !l.contains("sysmeta")
        }.map { ($0.name, $0.value) }
    }

    // MARK: POST / DELETE

    func post(_ request: HTTPRequest, _ path: SwiftPath) async throws -> HTTPResponse {
        try context.constraints.checkMetadata(request.headers.pairs, kind: "object")
        let expiry = try deleteAt(request)
        let ts = context.timestamp()
        var base = context.backendHeaders(txid: request.transactionID, timestamp: ts)
        for (k, v) in storedHeaders(request) { base.add(name: k, value: v) }
        if let ct = request.header("content-type") { base.add(name: "Content-Type", value: ct) }
        if let expiry { base.add(name: "X-Delete-At", value: String(expiry)) }
        let headers = base
        let (part, _) = context.rings.object.nodes(account: path.account, container: path.container, object: path.object)
        let replies = await context.fanout.write(ring: context.rings.object, partition: part, method: "POST",
                                                 path: objectPath(path), headers: { _ in headers })
        let status = BestResponse.status(replies.map(\.status), replicas: replies.count)
        return status == 404 ? .text(404, "Not Found\n") : HTTPResponse(status: status)
    }

    func delete(_ request: HTTPRequest, _ path: SwiftPath) async throws -> HTTPResponse {
        let info = await context.containerInfo(account: path.account, container: path.container!, txid: request.transactionID)
        guard info.exists else { return .text(404, "Not Found\n") }
        let ts = context.timestamp()
        let base = context.backendHeaders(txid: request.transactionID, timestamp: ts)
        let ctx = context
        let (part, _) = context.rings.object.nodes(account: path.account, container: path.container, object: path.object)
        let replies = await context.fanout.write(ring: context.rings.object, partition: part, method: "DELETE",
                                                 path: objectPath(path)) { i in
            var h = base
            for (k, v) in ctx.containerUpdateHeaders(account: path.account, container: path.container!, index: i) { h.add(name: k, value: v) }
            return h
        }
        let status = BestResponse.status(replies.map(\.status), replicas: replies.count)
        return status == 404 ? .text(404, "Not Found\n") : HTTPResponse(status: status)
    }

    // MARK: GET / HEAD

    func read(_ request: HTTPRequest, _ path: SwiftPath) async throws -> HTTPResponse {
        let ring = context.rings.object
        let (part, primaries) = ring.nodes(account: path.account, container: path.container, object: path.object)
        var headers = context.backendHeaders(txid: request.transactionID)
        for name in ["range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] {
            for v in request.headers[name] { headers.add(name: name, value: v) }
        }
        let uriPath = objectPath(path)
        var sawNotFound = false
        for node in primaries + Array(ring.handoffs(partition: part).prefix(ring.replicas)) {
            let conn: BackendConnection
            do {
                conn = try await context.client.connect(host: node.ip, port: node.port)
            } catch {
                continue
            }
            let deadline = conn.closeAfter(context.nodeTimeout)
            let head: HTTPResponseHead
            do {
                var h = headers
                h.add(name: "Host", value: node.address)
                try await conn.sendHead(method: request.method, uri: BackendFanout.uri(device: node.device, partition: part, path: uriPath), headers: h)
                try await conn.sendEnd()
                head = try await conn.readHead()
            } catch {
                deadline.cancel()
                conn.close()
                continue
            }
            deadline.cancel()
            let status = Int(head.status.code)
            if status == 404 || status >= 500 {
                sawNotFound = sawNotFound || status == 404
                _ = try? await conn.readFullBody()
                context.client.release(conn)
                continue
            }
            let clientHeaders = HeaderFilter.clientHeaders(head.headers)
            if request.method == "HEAD" || status == 304 || status == 412 {
                _ = try? await conn.readFullBody()
                context.client.release(conn)
                return HTTPResponse(status: status, headers: clientHeaders)
            }
            let client = context.client
            return HTTPResponse(status: status, headers: clientHeaders, body: .stream { writer in
                do {
                    while let part = try await conn.readBodyPart() { try await writer.write(part) }
                    client.release(conn)
                } catch {
                    conn.close()
                    throw error
                }
            })
        }
        if sawNotFound { return .text(404, "Not Found\n") }
        throw HTTPError.serviceUnavailable("No object server could be reached")
    }
}
