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
    /// The requester (nil for anonymous requests allowed by an ACL).
    let identity: Identity?

    /// The object features the request's stages enabled (all of them outside a request).
    var features: ObjectFeatures { context.scope?.features ?? .all }

    /// The proxy server's object controller: what a PUT stores was decided by the stage that
    /// recognised it (`slo`, `symlink`); `COPY` arrives as a PUT with `X-Copy-From` (`copy`).
    func handle(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse {
        switch request.method {
        case "PUT":
            switch context.scope?.writer ?? .plain {
            case .sloManifest: return try await putSLO(request, path)
            case .symlink: return try await putSymlink(request, path)
            case .plain: return try await put(request, path)
            }
        case "GET", "HEAD": return try await read(request, path)
        case "POST": return try await post(request, path)
        case "DELETE": return try await delete(request, path)
        default: throw HTTPError(405, "Method Not Allowed")
        }
    }


    /// Validates `X-Delete-At` / `X-Delete-After` and returns the absolute expiry, if any.
    func deleteAt(_ headers: HTTPHeaders) throws -> Int64? {
        let now = context.clock.now()
        if let after = headers.first(name: "x-delete-after") {
            guard let secs = Int64(after) else { throw HTTPError.badRequest("Non-integer X-Delete-After") }
            guard secs >= 0 else { throw HTTPError.badRequest("X-Delete-After in past") }
            return Self.clampDeleteAt(now + Double(secs))
        }
        if let at = headers.first(name: "x-delete-at") {
            guard let t = Double(at), t.isFinite, at.allSatisfy({ $0.isNumber || $0 == "." }) else {
                throw HTTPError.badRequest("Non-integer X-Delete-At")
            }
            guard t > now else { throw HTTPError.badRequest("X-Delete-At in past") }
            return Self.clampDeleteAt(t)
        }
        return nil
    }

    /// Swift keeps expiry times within ten digits (`normalize_delete_at_timestamp`).
    static func clampDeleteAt(_ t: Double) -> Int64 { Int64(min(max(0, t), 9_999_999_999)) }

    /// Object metadata headers a client may set, to be stored with the object.
    func storedHeaders(_ headers: HTTPHeaders) -> [(String, String)] {
        headers.filter { name, _ in
            let l = name.lowercased()
            return UserMetadata.isStoredObjectHeader(l) && l != "x-delete-at" && l != "x-static-large-object" && !l.contains("sysmeta")
        }.map { ($0.name, $0.value) }
    }

    // MARK: POST / DELETE

    func post(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse {
        if request.header("x-symlink-target") != nil {
            throw HTTPError(400, "A PUT request is required to set a symlink target", headers: [("Content-Type", "text/plain")])
        }
        try context.constraints.checkMetadata(request.headers.pairs, kind: "object")
        let expiry = try deleteAt(request.headers)
        let ts = context.timestamp()
        var base = context.backendHeaders(txid: request.transactionID, timestamp: ts)
        for (k, v) in storedHeaders(request.headers) { base.add(name: k, value: v) }
        if let ct = request.header("content-type") { base.add(name: "Content-Type", value: ct) }
        if let expiry { base.add(name: "X-Delete-At", value: String(expiry)) }
        let (part, _) = context.rings.object.nodes(account: path.account, container: path.container, object: path.object)
        // A new Content-Type must reach the container listing too, hence the update headers.
        let replies = await context.fanout.write(ring: context.rings.object, partition: part, method: "POST", path: path.backendPath,
                                                 headers: context.withContainerUpdates(base, account: path.account, container: path.container))
        let status = BestResponse.status(replies.map(\.status), replicas: replies.count)
        if (200..<300).contains(status), let stored = replies.first(where: { $0.status == status })?.response?.headers,
           let redirect = Self.postedToSymlink(stored, path: path) {
            return redirect
        }
        return status == 404 ? .error(404) : HTTPResponse(status: status)
    }

    func delete(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse {
        let status = try await deleteObject(path, txid: request.transactionID, ifDeleteAt: request.header("x-if-delete-at"))
        return status == 404 ? .error(404) : HTTPResponse(status: status)
    }

    /// Deletes one object on its replicas; answers the replicas' verdict.
    func deleteObject(_ path: ObjectPath, txid: String, ifDeleteAt: String? = nil) async throws -> Int {
        let info = await context.containerInfo(account: path.account, container: path.container, txid: txid)
        guard info.exists else { return 404 }
        let ts = context.timestamp()
        var base = context.backendHeaders(txid: txid, timestamp: ts)
        if let ifDeleteAt {
            guard Int64(ifDeleteAt) != nil else { throw HTTPError.badRequest("Bad X-If-Delete-At header value") }
            base.add(name: "X-If-Delete-At", value: ifDeleteAt)
        }
        let (part, _) = context.rings.object.nodes(account: path.account, container: path.container, object: path.object)
        let replies = await context.fanout.write(ring: context.rings.object, partition: part, method: "DELETE", path: path.backendPath,
                                                 headers: context.withContainerUpdates(base, account: path.account, container: path.container))
        return BestResponse.status(replies.map(\.status), replicas: replies.count)
    }

    // MARK: GET / HEAD

    /// What reading an object from its replicas found.
    enum SourceRead {
        /// A replica answered (200, 206, 304, 412, 416…); its body is still to be read from `conn`.
        case found(HTTPResponseHead, BackendConnection)
        case notFound
        case unavailable
    }

    /// Asks the object's primaries, then handoffs, until one has it.
    func openRead(_ path: ObjectPath, method: String, headers: HTTPHeaders) async -> SourceRead {
        let ring = context.rings.object
        let part = ring.partition(account: path.account, container: path.container, object: path.object)
        let uri = path.backendPath
        var sawNotFound = false
        for node in ReplicaPlan(ring: ring, partition: part).readNodes {
            context.metrics.backendRequest(server: .object, method: method)
            let head: HTTPResponseHead
            let conn: BackendConnection
            do {
                (head, conn) = try await context.client.withConnection(host: node.ip, port: node.port) { conn in
                    let deadline = conn.closeAfter(context.nodeTimeout)
                    defer { deadline.cancel() }
                    do {
                        var h = headers
                        h.add(name: "Host", value: node.address)
                        try await conn.sendRequest(method: method, uri: BackendFanout.uri(device: node.device, partition: part, path: uri), headers: h)
                        return (try await conn.readHead(), conn)
                    } catch {
                        conn.close()
                        throw error
                    }
                }
            } catch {
                context.metrics.backendError(server: .object)
                continue
            }
            let status = Int(head.status.code)
            if status == 404 || status >= 500 {
                sawNotFound = sawNotFound || status == 404
                _ = try? await conn.readFullBody()
                context.client.release(conn)
                continue
            }
            return .found(head, conn)
        }
        return sawNotFound ? .notFound : .unavailable
    }

    func read(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse {
        var headers = context.backendHeaders(txid: request.transactionID)
        for name in ["range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] {
            for v in request.headers[name] { headers.add(name: name, value: v) }
        }
        // Where a stage keeps the ETag its clients compare with (s3api's, for a completed
        // multipart upload); a client's own X-Backend-* never gets past gatekeeper.
        var etagIsAt = request.headers["x-backend-etag-is-at"].flatMap { $0.split(separator: ",") }
            .map(ContentTypeParams.trimmed)
        // Without its stage in the pipeline, a manifest or a symlink is the plain object stored.
        let features = self.features
        let wantsManifest = Self.wantsManifest(request) || !features.contains(.slo)
        let symlinkGet = (try? request.queryValue("symlink")) == "get" || !features.contains(.symlink)
        // A manifest (or a symlink) is read whole: the range applies to the large object (or
        // the target), and for an SLO, conditionals compare with the SLO's ETag.
        var readWhole: [String] = []
        if !wantsManifest {
            etagIsAt.append(Self.sloETagHeader)
            readWhole.append("X-Static-Large-Object")
        }
        if !etagIsAt.isEmpty { headers.add(name: "X-Backend-Etag-Is-At", value: etagIsAt.joined(separator: ", ")) }
        if !symlinkGet { readWhole.append(Self.symlinkTarget) }
        if !readWhole.isEmpty { headers.add(name: "X-Backend-Ignore-Range-If-Metadata-Present", value: readWhole.joined(separator: ", ")) }
        let resolved = try await openFollowingSymlinks(path, method: request.method, headers: headers, referer: request.header("referer"),
                                                       txid: request.transactionID, follow: !symlinkGet)
        var response = try await respond(request, path, resolved.read, wantsManifest: Self.wantsManifest(request), features: features)
        if symlinkGet, features.contains(.symlink), case .found(let head, _) = resolved.read { Self.symlinkClientHeaders(&response.headers, backend: head.headers) }
        if let location = resolved.contentLocation { response.headers.replaceOrAdd(name: "Content-Location", value: location) }
        return response
    }

    /// The client's response to what a read found: a large object, or the object itself.
    private func respond(_ request: HTTPRequest, _ path: ObjectPath, _ read: SourceRead, wantsManifest: Bool,
                         features: ObjectFeatures) async throws -> HTTPResponse {
        switch read {
        case .notFound:
            return .error(404)
        case .unavailable:
            throw HTTPError.serviceUnavailable("No object server could be reached")
        case .found(let head, let conn):
            if features.contains(.slo), Self.isSLO(head.headers) {
                return try await wantsManifest ? readSLOManifest(request, head: head, conn: conn) : readSLO(request, path, head: head, conn: conn)
            }
            if features.contains(.dlo), let manifest = head.headers.first(name: "x-object-manifest"), !wantsManifest {
                _ = try? await conn.readFullBody()
                context.client.release(conn)
                return try await readDLO(request, path, manifest: manifest, manifestHead: head)
            }
            return await passThrough(request, status: Int(head.status.code), headers: HeaderFilter.clientHeaders(head.headers), conn: conn)
        }
    }

    /// Reads a small object whole (an error page, say); nil when it cannot be read.
    func readWhole(_ path: ObjectPath, txid: String, limit: Int = 4 << 20) async throws -> HTTPResponse? {
        guard case .found(let head, let conn) = await openRead(path, method: "GET", headers: context.backendHeaders(txid: txid)) else {
            return nil
        }
        do {
            let body = try await conn.readFullBody(limit: limit)
            context.client.release(conn)
            return HTTPResponse(status: Int(head.status.code), headers: HeaderFilter.clientHeaders(head.headers), body: .bytes(body))
        } catch {
            conn.close()
            return nil
        }
    }

    /// Bodies up to this size are read whole by `passThrough` instead of streamed.
    static let wholeReadLimit = 64 << 10

    /// Answers with a replica's response, streaming its body from `conn`.
    func passThrough(_ request: HTTPRequest, status: Int, headers: HTTPHeaders, conn: BackendConnection) async -> HTTPResponse {
        if request.method == "HEAD" || status == 304 || status == 412 {
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            return HTTPResponse(status: status, headers: headers)
        }
        let client = context.client
        if let length = headers.first(name: "content-length").flatMap(Int.init), length <= Self.wholeReadLimit {
            // A small body is read whole before answering: the client's answer then goes out in
            // one write, and a replica that breaks off mid-body gets a clear 503, not a cut.
            let deadline = conn.closeAfter(context.nodeTimeout)
            do {
                let body = try await conn.readFullBody(limit: Self.wholeReadLimit)
                deadline.cancel()  // before the connection can be someone else's
                client.release(conn)
                return HTTPResponse(status: status, headers: headers, body: .bytes(body))
            } catch {
                deadline.cancel()
                conn.close()
                context.metrics.backendError(server: .object)
                return .error(503)
            }
        }
        return HTTPResponse(status: status, headers: headers, body: .stream { writer in
            do {
                while let part = try await conn.readBodyPart(timeout: context.nodeTimeout) { try await writer.write(part) }
                client.release(conn)
            } catch {
                conn.close()
                throw error
            }
        })
    }
}
