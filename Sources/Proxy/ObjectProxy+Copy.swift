import Foundation
import HTTPClientKit
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

extension ObjectProxy {
    /// `PUT` with `X-Copy-From: c/o` (and `X-Copy-From-Account`).
    func copy(_ request: HTTPRequest, to dest: ObjectPath) async throws -> HTTPResponse {
        let (container, object) = try Self.splitCopyPath(request.header("x-copy-from") ?? "", header: "X-Copy-From")
        let account = try request.header("x-copy-from-account").map { try PercentCoding.decodeUTF8($0) } ?? dest.account
        return try await performCopy(request, from: ObjectPath(account: account, container: container, object: object), to: dest)
    }

    /// `c/o`, `/c/o` or their percent-encoded forms.
    static func splitCopyPath(_ raw: String, header: String) throws -> (String, String) {
        let decoded = try PercentCoding.decodeUTF8(raw)
        if raw.unicodeScalars.contains("\u{FFFD}") { throw HTTPError(412, "\(header) header holds bytes that are not UTF-8") }
        let trimmed = NameBytes.hasPrefix(decoded, "/") ? NameBytes.dropPrefix(decoded, bytes: 1) : decoded
        guard let (container, object) = NameBytes.splitOnce(trimmed, "/"), !container.isEmpty, !object.isEmpty else {
            throw HTTPError(412, "\(header) header must be of the form <container name>/<object name>",
                            headers: [("X-Bad-Value", String(raw.prefix(200)))])
        }
        return (container, object)
    }

    /// Reads the source and stores it at the destination: the source's metadata (unless
    /// `X-Fresh-Metadata: true`) overlaid with the request's, its bytes streamed straight through.
    func performCopy(_ request: HTTPRequest, from source: ObjectPath, to dest: ObjectPath) async throws -> HTTPResponse {
        if let cl = request.contentLength, cl != 0 { throw HTTPError.badRequest("Copy requests require a zero byte body") }
        try SwiftPath.validate(dest, constraints: context.constraints)
        // Source and destination are authorized separately: a GET of one, a PUT of the other.
        let authorizer = Authorizer(context: context)
        // A missing source answers 404 before the destination is looked at, as Swift's copy does.
        _ = try await authorizer.authorize(identity, method: "GET", path: source, referer: request.header("referer"), txid: request.transactionID)

        var sourceHeaders = context.backendHeaders(txid: request.transactionID)
        if let range = request.header("range") { sourceHeaders.add(name: "Range", value: range) }
        // `?symlink=get` copies a symlink itself; otherwise its target is copied.
        let symlinkGet = (try? request.queryValue("symlink")) == "get"
        if !symlinkGet { sourceHeaders.add(name: "X-Backend-Ignore-Range-If-Metadata-Present", value: Self.symlinkTarget) }
        let head: HTTPResponseHead
        let conn: BackendConnection
        let resolved = try await openFollowingSymlinks(source, method: "GET", headers: sourceHeaders, referer: request.header("referer"),
                                                       txid: request.transactionID, follow: !symlinkGet)
        switch resolved.read {
        case .notFound: return .error(404)
        case .unavailable: throw HTTPError.serviceUnavailable("No object server could be reached for the copy source")
        case .found(let h, let c):
            head = h
            conn = c
        }
        let pin = context.scope?.copySourcePin ?? []
        context.scope?.copySourcePin = []
        if pin.contains(where: { name, value in head.headers.first(name: name) != value }) {
            // Replaced or changed since the stage that pinned it looked.
            conn.close()
            return .error(412)
        }
        do {
            _ = try await authorizer.authorize(identity, method: "PUT", path: dest, referer: request.header("referer"), txid: request.transactionID)
            let length = head.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
            try await Quotas.checkWrite(dest, length: length, context: context, txid: request.transactionID)
        } catch {
            conn.close()
            throw error
        }
        if symlinkGet, let target = head.headers.first(name: Self.symlinkTarget) {
            // Copying a symlink itself: the request may point the copy at another account or ETag.
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            var headers = copyHeaders(request, sourceHead: head)
            headers.replaceOrAdd(name: "X-Symlink-Target", value: target)
            for (sys, user) in [(Self.symlinkTargetAccount, "X-Symlink-Target-Account"), (Self.symlinkTargetETag, "X-Symlink-Target-Etag")] {
                if let v = request.header(user) ?? head.headers.first(name: sys) { headers.replaceOrAdd(name: user, value: v) }
            }
            let stored = try await storeSymlink(dest, headers: headers, referer: request.header("referer"), txid: request.transactionID)
            return Self.copied(stored, from: source, sourceHead: head)
        }
        if Self.isSLO(head.headers) {
            let manifest = try SLOManifest(stored: try await readManifestBody(conn))
            return try await copySLO(request, from: source, to: dest, manifest: manifest, manifestHead: head)
        }
        if let manifest = head.headers.first(name: "x-object-manifest"), !Self.wantsManifest(request) {
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            return try await copyDLO(request, from: source, to: dest, manifest: manifest, manifestHead: head)
        }
        let status = Int(head.status.code)
        guard status == 200 || status == 206 else {
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            return .error(status)
        }

        var headers = copyHeaders(request, sourceHead: head)
        if let manifest = head.headers.first(name: "x-object-manifest") {
            // `?multipart-manifest=get`: the copy is another manifest.
            headers.replaceOrAdd(name: "X-Object-Manifest", value: manifest)
        }
        if status == 200, let etag = head.headers.first(name: "etag") { headers.replaceOrAdd(name: "ETag", value: etag) }
        let length = head.headers.first(name: "content-length").flatMap { Int64($0) }
        // System metadata travels with the bytes (a symlink stays a symlink); listing overrides
        // only when the bytes are the whole object.
        // A stage's own system metadata for this write (s3api's ACL) wins over the source's.
        let staged = takeStagedSysmeta()
        let stagedNames = Set(staged.map { $0.0.lowercased() })
        let sysmeta = head.headers.filter { name, _ in
            let l = name.lowercased()
            return l.hasPrefix("x-object-sysmeta-") && !(status != 200 && l.hasPrefix("x-object-sysmeta-container-update-override-"))
                && !stagedNames.contains(l)
        }.map { ($0.name, $0.value) } + staged

        var response: HTTPResponse
        do {
            response = try await store(dest, headers: headers, length: length, txid: request.transactionID, sysmeta: sysmeta) {
                try await conn.readBodyPart()
            }
            context.client.release(conn)
        } catch {
            conn.close()
            throw error
        }
        return Self.copied(response, from: source, sourceHead: head)
    }

    /// Copies the concatenation of a DLO (not its manifest).
    func copyDLO(_ request: HTTPRequest, from source: ObjectPath, to dest: ObjectPath, manifest: String,
                 manifestHead: HTTPResponseHead) async throws -> HTTPResponse {
        let dlo = try await DLOManifest.load(manifest: manifest, account: source.account, proxy: self,
                                                    referer: request.header("referer"), txid: request.transactionID)
        var headers = copyHeaders(request, sourceHead: manifestHead)
        headers.remove(name: "x-object-manifest")
        let total = try dlo.totalLength()
        var range: ClosedRange<Int64>?
        if let ranges = RangeSpec.resolve(request.header("range"), length: total), ranges.count == 1 { range = ranges[0] }
        let reader = SegmentReader(proxy: self, plan: ListPlan(dlo.pieces(range: range)), txid: request.transactionID,
                                   referer: request.header("referer"))
        let length = range.map { Int64($0.count) } ?? total
        let staged = takeStagedSysmeta()
        do {
            let response = try await store(dest, headers: headers, length: length, txid: request.transactionID,
                                           sysmeta: staged) { try await reader.next() }
            return Self.copied(response, from: source, sourceHead: manifestHead)
        } catch {
            reader.cancel()
            throw error
        }
    }

    /// Copies an SLO: its bytes, or with `?multipart-manifest=get` the manifest itself, whose
    /// segments are checked again in the destination's account (as Swift re-PUTs it).
    func copySLO(_ request: HTTPRequest, from source: ObjectPath, to dest: ObjectPath, manifest: SLOManifest,
                 manifestHead: HTTPResponseHead) async throws -> HTTPResponse {
        var headers = copyHeaders(request, sourceHead: manifestHead)
        headers.remove(name: "x-static-large-object")
        if Self.wantsManifest(request) {
            let input = try SLOManifestInput(Data(manifest.raw.encoded.utf8), manifestPath: dest.swiftPath)
            let format = BulkResponse.format(accept: request.header("accept")) ?? "text/plain"
            let outcome = try await storeSLO(dest, input: input, headers: headers, format: format, referer: request.header("referer"),
                                             txid: request.transactionID)
            return Self.copied(outcome.response(format: format), from: source, sourceHead: manifestHead)
        }
        let total = try manifestHead.headers.first(name: Self.sloSizeHeader).flatMap { Int64($0) } ?? manifest.totalLength()
        var range: ClosedRange<Int64>? = total > 0 ? 0...(total - 1) : nil
        if let ranges = RangeSpec.resolve(request.header("range"), length: total), ranges.count == 1 { range = ranges[0] }
        let plan: any SegmentPlan = range.map {
            SLOSegmentWalk(proxy: self, account: source.account, referer: request.header("referer"), txid: request.transactionID,
                           entries: manifest.entries, range: $0)
        } ?? ListPlan([])
        let reader = SegmentReader(proxy: self, plan: plan, txid: request.transactionID, referer: request.header("referer"))
        let staged = takeStagedSysmeta()
        do {
            let response = try await store(dest, headers: headers, length: range.map { Int64($0.count) } ?? 0,
                                           txid: request.transactionID, sysmeta: staged) { try await reader.next() }
            return Self.copied(response, from: source, sourceHead: manifestHead)
        } catch {
            reader.cancel()
            throw error
        }
    }

    /// A stage's own system metadata for the copy's destination (s3api's ACL), consumed: the
    /// bytes of a large object are stored as a plain object that must carry it too.
    func takeStagedSysmeta() -> [(String, String)] {
        let staged = context.scope?.objectSysmeta ?? []
        context.scope?.objectSysmeta = []
        return staged
    }

    /// The destination's headers: the source's metadata (unless `X-Fresh-Metadata: true`)
    /// overlaid with the request's.
    func copyHeaders(_ request: HTTPRequest, sourceHead head: HTTPResponseHead) -> HTTPHeaders {
        var headers = HTTPHeaders()
        let fresh = request.header("x-fresh-metadata")?.lowercased() == "true"
        for (name, value) in head.headers {
            let l = name.lowercased()
            if l == "content-type" {
                headers.add(name: name, value: ContentTypeParams.clean(value))
            } else if (!fresh && (l.hasPrefix("x-object-meta-") || ["content-encoding", "content-disposition",
                "content-language", "cache-control", "expires"].contains(l))) {
                headers.add(name: name, value: value)
            }
        }
        for (name, value) in request.headers {
            let l = name.lowercased()
            if UserMetadata.isStoredObjectHeader(l) || l == "content-type" || l == "x-delete-at" || l == "x-delete-after"
                || l == "if-none-match" || l == "x-detect-content-type" {
                headers.replaceOrAdd(name: name, value: value)
            }
        }
        return headers
    }

    /// Adds the `X-Copied-From*` headers to a successful copy.
    static func copied(_ stored: HTTPResponse, from source: ObjectPath, sourceHead head: HTTPResponseHead) -> HTTPResponse {
        var response = stored
        if response.status == 201 {
            response.headers.add(name: "X-Copied-From", value: PercentCoding.encodePath("\(source.container)/\(source.object)"))
            response.headers.add(name: "X-Copied-From-Account", value: PercentCoding.encodePath(source.account))
            if let lm = head.headers.first(name: "last-modified") { response.headers.add(name: "X-Copied-From-Last-Modified", value: lm) }
        }
        return response
    }
}
