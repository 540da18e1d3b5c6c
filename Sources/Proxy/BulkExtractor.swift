import Foundation
import Gzip
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore
import Tar

/// `PUT ?extract-archive=tar|tar.gz|tar.bz2` (Swift's bulk upload): every regular file of the
/// uploaded archive becomes an object under the request path (`/account`, `/account/container`
/// or `/account/container/prefix`; the first path component names the container, created when
/// missing). The archive is unpacked as it streams in; each object is stored with the
/// requester's rights.
struct BulkExtractor: Sendable {
    enum Compression: Sendable { case none, gzip, bzip2 }

    let proxy: ObjectProxy
    let txid: String
    let referer: String?
    static let maxContainers = 10_000
    static let maxFailures = 1000

    static func compression(_ type: String) -> Compression? {
        switch type.lowercased().trimmingCharacters(in: ["."]) {
        case "tar": return Compression.none
        case "tar.gz": return .gzip
        case "tar.bz2": return .bzip2
        default: return nil
        }
    }

    func response(_ request: HTTPRequest, _ path: SwiftPath, compression: Compression, format: String) async throws -> HTTPResponse {
        var base = path.container ?? ""
        if let object = path.object { base += "/" + object }
        while base.hasSuffix("/") { base.removeLast() }
        let headers = request.headers
        guard request.contentLength != nil || request.isChunked else {
            return BulkResponse.streamed(format: format, root: "extract") { Self.failure(411, nil) }
        }
        // Reading the first chunk sends `100 Continue` before the 200 goes out.
        let source = try TarEventSource(body: request.body, compression: compression)
        do {
            try await source.prime()
        } catch let error as HTTPError {
            throw error
        } catch {
            return BulkResponse.streamed(format: format, root: "extract") { Self.failure(400, "Invalid Tar File: \(error)") }
        }
        let account = path.account
        let prefix = base
        var response = BulkResponse.streamed(format: format, root: "extract") {
            await self.run(source, account: account, base: prefix, headers: headers)
        }
        response.streamsRequestBody = true
        return response
    }

    static func failure(_ status: Int, _ body: String?) -> BulkResponse {
        var r = BulkResponse()
        r["Response Status"] = .string(HTTPStatusText.statusLine(status))
        r["Response Body"] = .string(body ?? HTTPStatusText.phrase(status))
        r["Number Files Created"] = .int(0)
        return r
    }

    func run(_ source: TarEventSource, account: String, base: String, headers: HTTPHeaders) async -> BulkResponse {
        var result = BulkResponse()
        result["Response Status"] = .string(HTTPStatusText.statusLine(201))
        result["Response Body"] = .string("")
        result["Number Files Created"] = .int(0)
        var failureStatus = 400
        var containersSeen: Set<String> = []
        var created = 0
        do {
            while let event = try await source.next() {
                guard case .entry(let entry) = event else { continue }
                guard entry.type == .regular, result.errors.count < Self.maxFailures else {
                    try await source.skipMember()
                    continue
                }
                var name = entry.name
                if name.hasPrefix("./") { name.removeFirst(2) }
                while NameBytes.hasPrefix(name, "/") { name = NameBytes.dropPrefix(name, bytes: 1) }
                if !base.isEmpty { name = base + "/" + name }
                guard let (container, object) = NameBytes.splitOnce(name, "/"), !object.isEmpty else {
                    try await source.skipMember()
                    continue
                }
                let quoted = PercentCoding.encodePath(String(name.prefix(1280)))
                if entry.path.contains(0) || String(validating: entry.path, as: UTF8.self) == nil {
                    result.errors.append((quoted, HTTPStatusText.statusLine(412)))
                    try await source.skipMember()
                    continue
                }
                if entry.size > proxy.context.constraints.maxFileSize {
                    result.errors.append((quoted, HTTPStatusText.statusLine(413)))
                    try await source.skipMember()
                    continue
                }
                let objectPath = ObjectPath(account: account, container: container, object: object)
                var containerFailure: (String, String)?
                if !containersSeen.contains(container) {
                    switch await ensureContainer(SwiftPath(account: account, container: container)) {
                    case .created:
                        created += 1
                        if created > Self.maxContainers {
                            throw HTTPError.badRequest("More than \(Self.maxContainers) containers to create from tar.")
                        }
                    case .existed: break
                    case .failed(let status):
                        if status == 401 { throw HTTPError.standard(401) }
                        containerFailure = (PercentCoding.encodePath("/v1/\(account)/\(container)"), HTTPStatusText.statusLine(status))
                    }
                }
                let status = await store(entry, at: objectPath, headers: headers, source: source)
                containersSeen.insert(container)
                if (200..<300).contains(status) {
                    result.count("Number Files Created")
                } else {
                    if let containerFailure { result.errors.append(containerFailure) }
                    if status == 401 {
                        result.errors.append((quoted, HTTPStatusText.statusLine(401)))
                        throw HTTPError.standard(401)
                    }
                    if status >= 500 { failureStatus = 502 }
                    result.errors.append((quoted, HTTPStatusText.statusLine(status)))
                }
            }
            if !result.errors.isEmpty {
                result["Response Status"] = .string(HTTPStatusText.statusLine(failureStatus))
            } else if result["Number Files Created"] == .int(0) {
                result["Response Status"] = .string(HTTPStatusText.statusLine(400))
                result["Response Body"] = .string("Invalid Tar File: No Valid Files")
            }
        } catch let error as HTTPError {
            result["Response Status"] = .string(HTTPStatusText.statusLine(error.status))
            result["Response Body"] = .string(error.status == 401 ? HTTPStatusText.phrase(401) : error.reason)
        } catch let error as TarError {
            result["Response Status"] = .string(HTTPStatusText.statusLine(400))
            result["Response Body"] = .string("Invalid Tar File: \(error)")
        } catch let error as CompressionError {
            result["Response Status"] = .string(HTTPStatusText.statusLine(400))
            result["Response Body"] = .string("Invalid Tar File: \(error)")
        } catch {
            proxy.context.logger.error("extract archive failed: \(error)", metadata: ["txid": "\(txid)"])
            result["Response Status"] = .string(HTTPStatusText.statusLine(500))
        }
        return result
    }

    enum ContainerOutcome { case created, existed, failed(Int) }

    private func ensureContainer(_ target: SwiftPath) async -> ContainerOutcome {
        let context = proxy.context
        guard let path = ContainerPath(target) else { return .failed(400) }
        if await context.containerInfo(account: path.account, container: path.container, txid: txid, fresh: true).exists { return .existed }
        do {
            let access = try await Authorizer(context: context).authorize(proxy.identity, method: "PUT", path: target, referer: referer, txid: txid)
            try await AccountProxy(context: context, access: access).ensureAccount(path.account, txid: txid)
            let (part, _) = context.rings.container.nodes(account: path.account, container: path.container)
            let status = try await ContainerProxy(context: context, access: access).write(HTTPHeaders(), txid: txid, method: "PUT",
                                                                                         account: path.account, container: path.container,
                                                                                         partition: part)
            context.invalidateContainer(account: path.account, container: path.container)
            return (200..<300).contains(status) ? .created : .failed(status)
        } catch let error as HTTPError {
            return .failed(error.status)
        } catch {
            return .failed(500)
        }
    }

    /// Stores one member's data as an object; the member is consumed whatever happens.
    private func store(_ entry: TarEntry, at path: ObjectPath, headers request: HTTPHeaders, source: TarEventSource) async -> Int {
        var headers = HTTPHeaders()
        for (name, value) in request {
            let l = name.lowercased()
            if l == "x-delete-at" || l == "x-delete-after" || l.hasPrefix("x-object-meta-") { headers.add(name: name, value: value) }
        }
        for (key, value) in entry.extendedHeaders {
            let text = String(decoding: value, as: UTF8.self)
            for prefix in ["SCHILY.xattr.user.", "LIBARCHIVE.xattr.user."] where key.hasPrefix(prefix) {
                let attr = String(key.dropFirst(prefix.count))
                if attr == "mime_type" { headers.replaceOrAdd(name: "Content-Type", value: text) }
                if attr.hasPrefix("meta.") { headers.replaceOrAdd(name: "X-Object-Meta-" + attr.dropFirst(5), value: text) }
            }
        }
        let status: Int
        do {
            try SwiftPath.validate(path, constraints: proxy.context.constraints)
            _ = try await Authorizer(context: proxy.context).authorize(proxy.identity, method: "PUT", path: path, referer: referer, txid: txid)
            try await Quotas.checkWrite(path, length: entry.size, context: proxy.context, txid: txid)
            let response = try await proxy.store(path, headers: headers, length: entry.size, txid: txid) { try await source.nextData() }
            status = response.status
        } catch let error as HTTPError {
            status = error.status
        } catch {
            status = 500
        }
        try? await source.skipMember()
        return status
    }
}

/// Pulls tar events out of a (possibly compressed) request body, one at a time.
final class TarEventSource: @unchecked Sendable {
    // @unchecked: used by the one task that unpacks the upload, never concurrently.
    private let body: RequestBody
    private let gzip: GzipInflater?
    private let bzip2: Bzip2Inflater?
    private let reader = TarReader()
    private var pending: [TarReader.Event] = []
    private var ended = false
    private var inMember = false
    /// Compressed bytes received and not decompressed yet.
    private var carry = ByteBuffer()
    /// Most decompressed bytes produced per step.
    static let maxInflated = 1 << 20

    init(body: RequestBody, compression: BulkExtractor.Compression) throws {
        self.body = body
        gzip = compression == .gzip ? try GzipInflater() : nil
        bzip2 = compression == .bzip2 ? try Bzip2Inflater() : nil
    }

    /// Reads the first chunk (so `100 Continue` is sent before the response starts).
    func prime() async throws {
        try await fill()
    }

    private func fill() async throws {
        while pending.isEmpty && !ended {
            let owed = (gzip?.hasPendingOutput ?? false) || (bzip2?.hasPendingOutput ?? false)
            if carry.readableBytes == 0 && !owed {
                guard let chunk = try await body.next() else {
                    ended = true
                    try reader.finish()
                    return
                }
                carry = chunk
            }
            // At most `Self.maxInflated` bytes are decompressed at a time: a compression bomb
            // costs time, never memory.
            let (plain, consumed): ([UInt8], Int) = try carry.withUnsafeReadableBytes { raw in
                if let gzip { return try gzip.feed(raw, maxOutput: Self.maxInflated) }
                if let bzip2 { return try bzip2.feed(raw, maxOutput: Self.maxInflated) }
                return (Array(raw), raw.count)
            }
            // No progress at all means the decoder wants nothing more of these bytes.
            carry.moveReaderIndex(forwardBy: plain.isEmpty && consumed == 0 ? carry.readableBytes : consumed)
            pending += try reader.feed(plain)
            if pending.contains(.end) { ended = true }
        }
    }

    func next() async throws -> TarReader.Event? {
        try await fill()
        guard !pending.isEmpty else { return nil }
        let e = pending.removeFirst()
        switch e {
        case .entry: inMember = true
        case .entryEnd: inMember = false
        default: break
        }
        return e
    }

    /// The next data chunk of the current member, nil at its end.
    func nextData() async throws -> ByteBuffer? {
        guard inMember else { return nil }
        while let e = try await next() {
            switch e {
            case .data(let d): return ByteBuffer(bytes: d)
            case .entryEnd: return nil
            default: continue
            }
        }
        throw TarError("archive ends inside a member")
    }

    /// Skips what is left of the current member.
    func skipMember() async throws {
        while inMember, let e = try await next() {
            if case .entryEnd = e { return }
        }
    }
}
