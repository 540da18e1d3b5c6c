import HTTPClientKit
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore
import Ring

extension ObjectProxy {
    /// Chunks of a PUT's body in flight to its replicas at once.
    static let writeWindow = 4

    /// One replica of a PUT in flight.
    final class PutStream: Sendable {
        let node: RingDevice
        let conn: BackendConnection
        init(node: RingDevice, conn: BackendConnection) {
            self.node = node
            self.conn = conn
        }
    }

    /// PUT: validate, open a connection per replica with `Expect: 100-continue` (replacing
    /// primaries that refuse or cannot be reached by handoffs), stream the body to all of them
    /// at once, and answer 201 when a quorum stored it.
    func put(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse {
        let constraints = context.constraints
        if request.header("x-copy-from") != nil { return try await copy(request, to: path) }
        if let te = request.header("transfer-encoding"), te.lowercased() != "chunked" {
            throw HTTPError(501, "Not Implemented: Transfer-Encoding \(te)")
        }
        if let cl = request.header("content-length"), Int64(cl) == nil { throw HTTPError.badRequest("Invalid Content-Length") }
        let length = request.contentLength
        if let length {
            guard length >= 0 else { throw HTTPError.badRequest("Invalid Content-Length") }
            if length > constraints.maxFileSize { throw HTTPError(413, "Your request is too large.") }
        } else if !request.isChunked {
            throw HTTPError(411, "Length Required: missing Content-Length or Transfer-Encoding: chunked")
        }
        let body = request.body
        // A stage's system metadata goes with this one object, not with a later PUT of the request.
        let sysmeta = context.scope?.objectSysmeta ?? []
        context.scope?.objectSysmeta = []
        let footers = context.scope?.objectFooters
        context.scope?.objectFooters = nil
        return try await store(path, headers: request.headers, length: length, txid: request.transactionID, sysmeta: sysmeta, footers: footers) {
            try await body.next()
        }
    }

    /// Stores an object whose bytes come from `next` (the client's body, or a copy source):
    /// metadata and conditions come from `headers` as a client would send them.
    /// `sysmeta` are system headers middleware adds (clients cannot set them); `footers`, system
    /// headers it knows only once the body has ended, go after the body (so the body goes chunked).
    func store(_ path: ObjectPath, headers clientHeaders: HTTPHeaders, length: Int64?, txid: String, sysmeta: [(String, String)] = [],
               footers: (@Sendable () -> [(String, String)])? = nil,
               next: () async throws -> ByteBuffer?) async throws -> HTTPResponse {
        let constraints = context.constraints
        try constraints.checkMetadata(clientHeaders.pairs, kind: "object")
        if let manifest = clientHeaders.first(name: "x-object-manifest") {
            let decoded = try PercentCoding.decodeUTF8(manifest)
            guard let (container, _) = NameBytes.splitOnce(decoded, "/"), !container.isEmpty else {
                throw HTTPError.badRequest("X-Object-Manifest must be in the format container/prefix")
            }
        }
        let expiry = try deleteAt(clientHeaders)
        let info = await context.containerInfo(account: path.account, container: path.container, txid: txid)
        guard info.exists else { return .error(404) }

        var contentType = clientHeaders.first(name: "content-type") ?? ""
        if contentType.isEmpty || clientHeaders.first(name: "x-detect-content-type")?.lowercased() == "true" {
            contentType = ContentTypes.guess(path.object)
        }
        let ts = context.timestamp()
        var base = context.backendHeaders(txid: txid, timestamp: ts)
        base.add(name: "Content-Type", value: contentType)
        if let length, footers == nil {
            base.add(name: "Content-Length", value: String(length))
        } else {
            base.add(name: "Transfer-Encoding", value: "chunked")
            // A body sent chunked for its footers still has a known length (Swift's EC does the same).
            if let length { base.add(name: "X-Backend-Obj-Content-Length", value: String(length)) }
        }
        if let etag = clientHeaders.first(name: "etag") { base.add(name: "ETag", value: etag) }
        let ifNoneMatch = clientHeaders.first(name: "if-none-match")
        if let inm = ifNoneMatch {
            guard inm.trimmingCharacters(in: .whitespaces) == "*" else { throw HTTPError.badRequest("If-None-Match only supports *") }
            base.add(name: "If-None-Match", value: "*")
        }
        for (k, v) in storedHeaders(clientHeaders) where k.lowercased() != "content-type" { base.add(name: k, value: v) }
        if let expiry { base.add(name: "X-Delete-At", value: String(expiry)) }
        for (k, v) in sysmeta { base.replaceOrAdd(name: k, value: v) }
        // 100-continue also lets a node refuse before the body: If-None-Match needs it even at 0 bytes.
        let expects = (length ?? 1) > 0 || ifNoneMatch != nil
        if expects { base.add(name: "Expect", value: "100-continue") }

        let ring = context.rings.object
        let part = ring.partition(account: path.account, container: path.container, object: path.object)
        var plan = ReplicaPlan(ring: ring, partition: part)
        let primaries = plan.primaries
        let uriPath = path.backendPath
        let ctx = context
        let replicaHeaders = context.withContainerUpdates(base, account: path.account, container: path.container)
        let headersFor: @Sendable (Int, RingDevice) -> HTTPHeaders = { i, node in
            var h = replicaHeaders(i)
            h.add(name: "Host", value: node.address)
            return h
        }

        // 1. Connect to all primaries at once; then give failed slots to handoffs, in order.
        let outcomes = await withTaskGroup(of: (Int, OpenOutcome).self) { group -> [OpenOutcome] in
            for (i, node) in primaries.enumerated() {
                group.addTask { (i, await self.open(node, partition: part, path: uriPath, headers: headersFor(i, node), expects: expects)) }
            }
            var out = [OpenOutcome](repeating: .unreachable, count: primaries.count)
            for await (i, s) in group { out[i] = s }
            return out
        }
        if outcomes.contains(where: { $0.refusal == 412 }) {
            // If-None-Match: * and the object exists.
            for s in outcomes.compactMap(\.stream) { s.conn.close() }
            return .error(412)
        }
        var opened = outcomes
        await plan.replaceFailures(&opened, failed: { $0.stream == nil }) { i, node in
            context.metrics.handoff(server: .object)
            return await open(node, partition: part, path: uriPath, headers: headersFor(i, node), expects: expects)
        }
        let streams = opened.map(\.stream)
        let quorum = BestResponse.quorum(ring.replicas)
        var live = streams.compactMap { $0 }
        guard live.count >= quorum else {
            for s in live { s.conn.close() }
            throw HTTPError.serviceUnavailable("Service Unavailable: only \(live.count) of \(ring.replicas) object servers accepted the upload")
        }

        // 2. Stream the body to every replica; a replica that fails is dropped. Up to
        //    `writeWindow` chunks are in flight to the replicas while the next is read from the
        //    client, so one slow replica does not hold up every chunk (bounded: a window of
        //    reads of at most 1 MiB each per replica).
        var sent: Int64 = 0
        var window: [[(PutStream, EventLoopFuture<Void>)]] = []
        func settleOldest() async throws {
            guard !window.isEmpty else { return }
            var failed: [ObjectIdentifier] = []
            for (s, f) in window.removeFirst() {
                do {
                    try await f.get()
                } catch {
                    s.conn.close()
                    failed.append(ObjectIdentifier(s))
                }
            }
            guard !failed.isEmpty else { return }
            live.removeAll { failed.contains(ObjectIdentifier($0)) }
            if live.count < quorum { throw HTTPError.serviceUnavailable("Service Unavailable: lost object servers during upload") }
        }
        do {
            while let chunk = try await next() {
                sent += Int64(chunk.readableBytes)
                if sent > constraints.maxFileSize { throw HTTPError(413, "Your request is too large.") }
                if window.count >= Self.writeWindow { try await settleOldest() }
                window.append(live.map { ($0, $0.conn.sendBodyFuture(chunk, timeout: ctx.nodeTimeout)) })
            }
            while !window.isEmpty { try await settleOldest() }
            if let length, sent != length { throw HTTPError(499, "Client disconnected") }
        } catch {
            // Closing the backend connections mid-body makes every object server throw its
            // temp file away: nothing half-written becomes visible.
            for s in live { s.conn.close() }
            throw error
        }

        // 3. End the requests (with the footers) and collect the answers.
        var trailers: HTTPHeaders?
        if let fields = footers?(), !fields.isEmpty { trailers = HTTPHeaders(fields) }
        let footerFields = trailers
        let replies = await withTaskGroup(of: (Int, String?).self) { group -> [(Int, String?)] in
            for s in live {
                group.addTask {
                    let deadline = s.conn.closeAfter(ctx.nodeTimeout)
                    defer { deadline.cancel() }
                    do {
                        try await s.conn.sendEnd(trailers: footerFields)
                        let head = try await s.conn.readHead()
                        _ = try await s.conn.readFullBody()
                        if head.isKeepAlive { ctx.client.release(s.conn) } else { s.conn.close() }
                        return (Int(head.status.code), head.headers.first(name: "etag"))
                    } catch {
                        s.conn.close()
                        return (503, nil)
                    }
                }
            }
            var out: [(Int, String?)] = []
            for await r in group { out.append(r) }
            return out
        }
        let statuses = replies.map(\.0) + Array(repeating: 503, count: ring.replicas - replies.count)
        let status = BestResponse.status(statuses, replicas: ring.replicas)
        guard status == 201 else {
            if status == 422 { throw HTTPError(422, "Unprocessable Entity: the ETag does not match the MD5 of the uploaded data") }
            if status == 503 { throw HTTPError.serviceUnavailable("Service Unavailable: no quorum of object servers stored the object") }
            return .error(status)
        }
        let etags = Set(replies.filter { $0.0 == 201 }.compactMap(\.1))
        guard etags.count == 1, let etag = etags.first else {
            throw HTTPError(500, "Object servers disagree on the ETag")
        }
        var out = HTTPHeaders()
        out.add(name: "ETag", value: etag)
        out.add(name: "Last-Modified", value: HTTPDate.format(ts.ceilSeconds))
        out.add(name: "Content-Type", value: "text/html; charset=UTF-8")
        return HTTPResponse(status: 201, headers: out)
    }

    /// How opening one replica's PUT went.
    enum OpenOutcome: Sendable {
        case stream(PutStream)
        /// The node answered with a final status instead of `100 Continue`.
        case refused(Int)
        case unreachable

        var stream: PutStream? { if case .stream(let s) = self { return s } else { return nil } }
        var refusal: Int? { if case .refused(let s) = self { return s } else { return nil } }
    }

    /// Opens one replica's PUT: connect, send the head and wait for `100 Continue`.
    /// A node that is down or refuses (507, 409…) gets no stream, so a handoff is tried.
    func open(_ node: RingDevice, partition: Int, path: String, headers: HTTPHeaders, expects: Bool) async -> OpenOutcome {
        context.metrics.backendRequest(server: .object, method: "PUT")
        do {
            return try await context.client.withConnection(host: node.ip, port: node.port) { conn in
                let deadline = conn.closeAfter(context.nodeTimeout)
                defer { deadline.cancel() }
                do {
                    try await conn.sendHead(method: "PUT", uri: BackendFanout.uri(device: node.device, partition: partition, path: path),
                                            headers: headers)
                    if expects, let early = try await conn.awaitContinue() {
                        context.logger.info("object server \(node.address)/\(node.device) refused PUT: \(early.status.code)")
                        conn.close()
                        return .refused(Int(early.status.code))
                    }
                    return .stream(PutStream(node: node, conn: conn))
                } catch {
                    conn.close()
                    throw error
                }
            }
        } catch {
            context.metrics.backendError(server: .object)
            context.logger.info("object server \(node.address)/\(node.device) unreachable: \(error)")
            return .unreachable
        }
    }
}
