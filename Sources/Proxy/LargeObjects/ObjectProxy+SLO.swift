import Digest
import Foundation
import HTTPClientKit
import HTTPServerKit
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NimbusCore

/// Static large objects, as OpenStack Swift's `slo` middleware offers them: a manifest PUT with
/// `?multipart-manifest=put` is checked segment by segment and stored with the large object's
/// ETag and size as system metadata; a GET streams the segments (ranges, nested manifests,
/// inline data); `?multipart-manifest=delete` removes the segments and the manifest.
extension ObjectProxy {
    static let sloETagHeader = "X-Object-Sysmeta-Slo-Etag"
    static let sloSizeHeader = "X-Object-Sysmeta-Slo-Size"
    /// Largest manifest body accepted (Swift's `max_manifest_size`).
    static let maxManifestSize = 8 * 1024 * 1024
    /// Most object-backed segments in one manifest (`max_manifest_segments`).
    static let maxManifestSegments = 1000
    /// Nesting depth of manifests in manifests.
    static let maxSLORecursion = 10
    /// Seconds between heartbeat spaces of `?heartbeat=on` (`yield_frequency`).
    static let sloYieldFrequency = 10

    /// Adds segment sizes: nested manifests can claim sizes whose sum leaves Int64, which is a
    /// client error (400), never a trap.
    static func addSizes(_ a: Int64, _ b: Int64) throws -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow, sum >= 0 else { throw HTTPError.badRequest("Total size of the large object is too large") }
        return sum
    }

    static func isSLO(_ headers: HTTPHeaders) -> Bool {
        headers.first(name: "x-static-large-object").map { ["true", "1", "yes", "on", "t", "y"].contains($0.lowercased()) } ?? false
    }

    // MARK: GET / HEAD

    /// Answers GET/HEAD of a manifest (the object server sent it whole, judging conditionals
    /// against the SLO ETag): the large object's headers and, for GET, its segments.
    func readSLO(_ request: HTTPRequest, _ path: ObjectPath, head: HTTPResponseHead, conn: BackendConnection) async throws -> HTTPResponse {
        var headers = HeaderFilter.clientHeaders(head.headers)
        headers.remove(name: "content-range")
        if let etag = head.headers.first(name: "etag") { headers.replaceOrAdd(name: "X-Manifest-Etag", value: etag) }
        let storedETag = head.headers.first(name: Self.sloETagHeader)
        let storedSize = head.headers.first(name: Self.sloSizeHeader).flatMap { Int64($0) }
        let status = Int(head.status.code)
        if let storedETag, let storedSize, request.method == "HEAD" || status == 304 || status == 412 {
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            headers.replaceOrAdd(name: "ETag", value: "\"\(storedETag)\"")
            headers.replaceOrAdd(name: "Content-Length", value: String(storedSize))
            return HTTPResponse(status: status, headers: headers)
        }
        let manifest = try SLOManifest(stored: try await readManifestBody(conn))
        let etag = "\"\(storedETag ?? manifest.etag)\""
        let total = try storedSize ?? manifest.totalLength()
        let (account, referer, txid) = (path.account, request.header("referer"), request.transactionID)
        return try await LargeObjectResponse(proxy: self, request: request, headers: headers, total: total, etag: etag,
                                             multipleRanges: true, evaluateConditionals: storedETag == nil,
                                             plan: { SLOSegmentWalk(proxy: self, account: account, referer: referer, txid: txid,
                                                                    entries: manifest.entries, range: $0) }).respond()
    }

    /// `?multipart-manifest=get` of a manifest: the stored JSON (or, with `format=raw`, the
    /// form a client PUTs).
    func readSLOManifest(_ request: HTTPRequest, head: HTTPResponseHead, conn: BackendConnection) async throws -> HTTPResponse {
        var headers = HeaderFilter.clientHeaders(head.headers)
        let raw = (try? request.queryValue("format")) == "raw"
        if !raw {
            headers.replaceOrAdd(name: "Content-Type", value: "application/json; charset=utf-8")
            return await passThrough(request, status: Int(head.status.code), headers: headers, conn: conn)
        }
        let text = try SLOManifest(stored: try await readManifestBody(conn)).raw.encoded
        headers.replaceOrAdd(name: "ETag", value: Digests.md5Hex(text))
        headers.replaceOrAdd(name: "Content-Length", value: String(text.utf8.count))
        return HTTPResponse(status: 200, headers: headers, body: request.method == "HEAD" ? .empty : .bytes(ByteBuffer(string: text)))
    }

    // MARK: PUT

    /// `PUT ?multipart-manifest=put`.
    func putSLO(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse {
        if request.header("x-copy-from") != nil { throw HTTPError(405, "Multipart Manifest PUTs cannot be COPY requests") }
        if let length = request.contentLength {
            if length > Self.maxManifestSize { throw HTTPError(413, "Manifest File > \(Self.maxManifestSize) bytes") }
        } else if !request.isChunked {
            throw HTTPError(411, "Length Required")
        }
        let body = try await request.body.collect(limit: Self.maxManifestSize)
        let input = try SLOManifestInput(Data(body.readableBytesView), manifestPath: path.swiftPath)
        let format = BulkResponse.format(accept: request.header("accept")) ?? "text/plain"
        let heartbeat = ["true", "1", "yes", "on", "t", "y"].contains(((try? request.queryValue("heartbeat")) ?? "").lowercased())
        let headers = request.headers
        let referer = request.header("referer")
        let txid = request.transactionID
        guard heartbeat else {
            return try await storeSLO(path, input: input, headers: headers, format: format, referer: referer, txid: txid).response(format: format)
        }
        // Heartbeat: answer 202 at once and send a space every few seconds while the segments are
        // checked, then the outcome as a bulk-style body (clients behind idle timeouts need this).
        return HTTPResponse(status: 202, headers: ["Content-Type": format], body: .stream { writer in
            try await writer.write(ByteBuffer(string: " "))
            let outcome = try await withThrowingTaskGroup(of: SLOPutOutcome?.self) { group -> SLOPutOutcome in
                group.addTask {
                    do {
                        return try await self.storeSLO(path, input: input, headers: headers, format: format, referer: referer, txid: txid)
                    } catch let error as HTTPError {
                        return SLOPutOutcome(status: error.status, headers: HTTPHeaders(), errors: [])
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(Self.sloYieldFrequency))
                    return nil
                }
                while let next = try await group.next() {
                    if let outcome = next {
                        group.cancelAll()
                        return outcome
                    }
                    try await writer.write(ByteBuffer(string: " "))
                    group.addTask {
                        try await Task.sleep(for: .seconds(Self.sloYieldFrequency))
                        return nil
                    }
                }
                throw HTTPError(500, "SLO upload ended without an outcome")
            }
            try await writer.write(ByteBuffer(string: "\r\n\r\n" + outcome.heartbeatBody(format: format)))
        })
    }

    /// Checks every segment of `input` (HEAD, with the requester's rights) and stores the
    /// manifest at `path`. `headers` are the client's (metadata, Content-Type, ETag, If-None-Match).
    func storeSLO(_ path: ObjectPath, input: SLOManifestInput, headers clientHeaders: HTTPHeaders, format: String,
                  referer: String?, txid: String) async throws -> SLOPutOutcome {
        if input.objectCount > Self.maxManifestSegments {
            throw HTTPError(413, "Number of object-backed segments must be <= \(Self.maxManifestSegments)")
        }
        var paths: [String] = []
        for case .object(let p, _, _, _) in input.segments where !paths.contains(p) { paths.append(p) }
        let heads = await headSegments(paths, account: path.account, referer: referer, txid: txid)

        var problems: [(String, String)] = []
        var entries: [SLOManifest.Entry] = []
        var total: Int64 = 0
        for (index, segment) in input.segments.enumerated() {
            switch segment {
            case .data(let bytes):
                entries.append(.data(bytes))
                total = try Self.addSizes(total, Int64(bytes.count))
            case .object(let p, let etag, let size, let rangeText):
                let quoted = PercentCoding.encodePath(p)
                let head: SegmentHead
                switch heads[p] {
                case .success(let h): head = h
                case .failure(let status): problems.append((quoted, HTTPStatusText.statusLine(status.code))); continue
                case nil: problems.append((quoted, HTTPStatusText.statusLine(500))); continue
                }
                var length = head.length
                var range: ClosedRange<Int64>?
                if let rangeText {
                    let resolved = RangeSpec.resolve("bytes=" + rangeText, length: head.length) ?? []
                    if resolved.count != 1 {
                        problems.append((quoted, "Unsatisfiable Range"))
                    } else if resolved[0] != 0...(head.length - 1) {
                        range = resolved[0]
                        length = Int64(resolved[0].count)
                    }
                }
                if length < 1 && index != input.segments.count - 1 {
                    problems.append((quoted, "Too small; each segment must be at least 1 byte."))
                }
                if let size, size != head.length { problems.append((quoted, "Size Mismatch")) }
                if let etag, etag != head.etag { problems.append((quoted, "Etag Mismatch")) }
                let name = "/" + (NameBytes.hasPrefix(p, "/") ? NameBytes.dropPrefix(p, bytes: 1) : p)
                entries.append(.object(.init(name: name, bytes: head.length, hash: head.etag, contentType: head.contentType,
                                             lastModified: head.lastModified, range: range, subSLO: head.isSLO)))
                total = try Self.addSizes(total, length)
            }
        }
        if !problems.isEmpty { return SLOPutOutcome(status: 400, headers: HTTPHeaders(), errors: problems) }

        let manifest = SLOManifest(entries: entries)
        let sloETag = manifest.etag
        if let clientETag = clientHeaders.first(name: "etag")?.trimmingCharacters(in: ["\""]), !clientETag.isEmpty, clientETag != sloETag {
            throw HTTPError(422, "Unprocessable Entity")
        }
        let json = manifest.stored.encoded
        let manifestETag = Digests.md5Hex(json)
        var headers = HTTPHeaders()
        for (name, value) in clientHeaders {
            let l = name.lowercased()
            if ["content-length", "transfer-encoding", "etag", "expect", "x-static-large-object"].contains(l) { continue }
            headers.add(name: name, value: value)
        }
        var contentType = ContentTypeParams.clean(headers.first(name: "content-type") ?? "")
        if contentType.isEmpty { contentType = ContentTypes.guess(path.object) }
        headers.replaceOrAdd(name: "Content-Type", value: "\(contentType);swift_bytes=\(total)")
        headers.remove(name: "x-detect-content-type")
        headers.replaceOrAdd(name: "ETag", value: manifestETag)
        // The listing shows both ETags; `; slo_etag=` is split out into its own key there. A
        // stage before may add its own parameters (s3api's `; s3_etag=`) with an override of
        // parameters only, and its system metadata.
        var override = "\(manifestETag); slo_etag=\(sloETag)"
        var sysmeta = [(Self.sloETagHeader, sloETag), (Self.sloSizeHeader, String(total)), ("X-Static-Large-Object", "True")]
        let staged = context.scope?.objectSysmeta ?? []
        context.scope?.objectSysmeta = []
        for (name, value) in staged {
            if name.lowercased() == "x-object-sysmeta-container-update-override-etag" {
                override = "\(manifestETag)\(value); slo_etag=\(sloETag)"
            } else {
                sysmeta.append((name, value))
            }
        }
        sysmeta.append(("X-Object-Sysmeta-Container-Update-Override-Etag", override))
        let body = ByteBuffer(string: json)
        var sent = false
        var stored = try await store(path, headers: headers, length: Int64(body.readableBytes), txid: txid, sysmeta: sysmeta) {
            if sent { return nil }
            sent = true
            return body
        }
        guard stored.status == 201 else {
            return SLOPutOutcome(status: stored.status, headers: stored.headers, errors: [])
        }
        stored.headers.replaceOrAdd(name: "ETag", value: "\"\(sloETag)\"")
        return SLOPutOutcome(status: 201, headers: stored.headers, errors: [])
    }

    /// What a segment's HEAD found.
    struct SegmentHead: Sendable {
        let length: Int64
        let etag: String
        let contentType: String
        let lastModified: String
        let isSLO: Bool
    }

    struct StatusCode: Error {
        let code: Int
    }

    /// HEADs segments a few at a time, each with the requester's rights.
    func headSegments(_ paths: [String], account: String, referer: String?, txid: String) async -> [String: Result<SegmentHead, StatusCode>] {
        var out: [String: Result<SegmentHead, StatusCode>] = [:]
        var pending = paths[...]
        while !pending.isEmpty {
            let batch = pending.prefix(8)
            pending = pending.dropFirst(8)
            await withTaskGroup(of: (String, Result<SegmentHead, StatusCode>).self) { group in
                for p in batch {
                    group.addTask { (p, await self.headSegment(p, account: account, referer: referer, txid: txid)) }
                }
                for await (p, r) in group { out[p] = r }
            }
        }
        return out
    }

    func headSegment(_ name: String, account: String, referer: String?, txid: String) async -> Result<SegmentHead, StatusCode> {
        guard let (container, object) = SLOManifest.split(name) else { return .failure(StatusCode(code: 400)) }
        let path = ObjectPath(account: account, container: container, object: object)
        do {
            _ = try await Authorizer(context: context).authorize(identity, method: "HEAD", path: path, referer: referer, txid: txid)
        } catch let error as HTTPError {
            return .failure(StatusCode(code: error.status))
        } catch {
            return .failure(StatusCode(code: 500))
        }
        let resolved: ResolvedRead
        do {
            resolved = try await openFollowingSymlinks(path, method: "HEAD", headers: context.backendHeaders(txid: txid), referer: referer,
                                                       txid: txid)
        } catch let error as HTTPError {
            return .failure(StatusCode(code: error.status))
        } catch {
            return .failure(StatusCode(code: 500))
        }
        switch resolved.read {
        case .notFound: return .failure(StatusCode(code: 404))
        case .unavailable: return .failure(StatusCode(code: 503))
        case .found(let head, let conn):
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            let h = head.headers
            guard head.status.code == 200 else { return .failure(StatusCode(code: Int(head.status.code))) }
            let isSLO = Self.isSLO(h)
            let length = (isSLO ? h.first(name: Self.sloSizeHeader) : nil).flatMap { Int64($0) }
                ?? Int64(h.first(name: "content-length") ?? "0") ?? 0
            let etag = (isSLO ? h.first(name: Self.sloETagHeader) : nil) ?? (h.first(name: "etag") ?? "").trimmingCharacters(in: ["\""])
            let modified = h.first(name: "last-modified").flatMap { HTTPDate.parse($0) } ?? Int64(context.clock.now())
            return .success(SegmentHead(length: length, etag: etag,
                                        contentType: ContentTypeParams.clean(h.first(name: "content-type") ?? ""),
                                        lastModified: Timestamp(seconds: Double(modified)).isoListingForm, isSLO: isSLO))
        }
    }

    // MARK: DELETE

    /// `DELETE ?multipart-manifest=delete`: every segment (nested manifests included), then the
    /// manifest, answered as a bulk delete.
    func deleteSLO(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse {
        guard let format = BulkResponse.format(accept: request.header("accept")) else { throw HTTPError.standard(406) }
        let referer = request.header("referer")
        let txid = request.transactionID
        var queue: [(name: String, subSLO: Bool)] = [("/\(path.container)/\(path.object)", true)]
        var targets: [BulkDeleter.Target] = []
        while !queue.isEmpty {
            if queue.count > Self.maxManifestSegments * 10 { throw HTTPError.badRequest("Too many buffered slo segments to delete.") }
            let item = queue.removeFirst()
            guard item.subSLO else {
                targets.append(.init(name: item.name, error: nil))
                continue
            }
            do {
                let manifest = try await fetchManifest(item.name, account: path.account, referer: referer, txid: txid)
                for case .object(let o) in manifest.entries { queue.append((o.name, o.subSLO)) }
                queue.append((item.name, false))
            } catch let error as HTTPError {
                targets.append(.init(name: item.name, error: error))
            }
        }
        let deleter = BulkDeleter(proxy: self, account: path.account, referer: referer, txid: txid)
        return deleter.response(targets: targets, format: format)
    }

    /// Reads a stored manifest (`/container/object`) with the requester's rights.
    func fetchManifest(_ name: String, account: String, referer: String?, txid: String) async throws -> SLOManifest {
        guard let (container, object) = SLOManifest.split(name) else { throw HTTPError.badRequest("Bad manifest path") }
        let path = ObjectPath(account: account, container: container, object: object)
        _ = try await Authorizer(context: context).authorize(identity, method: "GET", path: path, referer: referer, txid: txid)
        // A nested manifest may be reached through a symlink.
        var headers = context.backendHeaders(txid: txid)
        headers.add(name: "X-Backend-Ignore-Range-If-Metadata-Present", value: Self.symlinkTarget)
        switch try await openFollowingSymlinks(path, method: "GET", headers: headers, referer: referer, txid: txid).read {
        case .notFound: throw HTTPError(404, "SLO manifest not found")
        case .unavailable: throw HTTPError(500, "Unable to load SLO manifest or segment.")
        case .found(let head, let conn):
            let body: Data
            do {
                body = try await readManifestBody(conn)
            } catch {
                throw HTTPError(500, "Unable to load SLO manifest")
            }
            guard head.status.code == 200 else { throw HTTPError(500, "Unable to load SLO manifest or segment.") }
            guard Self.isSLO(head.headers) else { throw HTTPError.badRequest("Not an SLO manifest") }
            return try SLOManifest(stored: body)
        }
    }

    /// Reads a manifest's stored bytes (at most a few times the manifest limit) and gives the
    /// connection back (or closes it when the read failed).
    func readManifestBody(_ conn: BackendConnection) async throws -> Data {
        do {
            let body = try await conn.readFullBody(limit: 4 * Self.maxManifestSize)
            context.client.release(conn)
            return Data(body.readableBytesView)
        } catch {
            conn.close()
            throw error
        }
    }
}

/// The result of an SLO PUT, answered directly or inside a heartbeat body.
struct SLOPutOutcome: Sendable {
    let status: Int
    let headers: HTTPHeaders
    /// Problem segments: `[quoted path, reason]`.
    let errors: [(String, String)]

    func response(format: String) -> HTTPResponse {
        if status == 400 && !errors.isEmpty {
            let body = BulkResponse(summary: [], errors: errors).body(format: format, root: "upload")
            return HTTPResponse(status: 400, headers: ["Content-Type": format], body: .bytes(ByteBuffer(string: body)))
        }
        if status >= 300 { return .error(status) }
        return HTTPResponse(status: status, headers: headers)
    }

    func heartbeatBody(format: String) -> String {
        var result = BulkResponse()
        result["Response Status"] = .string(HTTPStatusText.statusLine(status))
        if status == 201 {
            result["Etag"] = .string(headers.first(name: "etag") ?? "")
            result["Last Modified"] = .string(headers.first(name: "last-modified") ?? "")
            result["Response Body"] = .string("")
        } else {
            result["Response Body"] = .string(HTTPStatusText.phrase(status) + "\n" + HTTPStatusText.explanation(status))
        }
        result.errors = errors
        return result.body(format: format, root: "upload")
    }
}
