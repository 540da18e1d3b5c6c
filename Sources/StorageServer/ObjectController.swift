import Foundation
import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import ObjectStore

/// The object server: PUT/GET/HEAD/POST/DELETE of object files on this node's devices.
struct ObjectController: Sendable {
    let paths: StoragePaths
    let pools: DevicePools
    let updater: ContainerUpdateSender
    let constraints: Constraints
    let clock: any WallClock
    let logger: Logger

    /// Bytes per disk read of a GET.
    static let chunkSize = 256 * 1024
    /// Bytes gathered from the network before each disk write of a PUT.
    static let writeBatch = 256 * 1024

    func diskFile(_ p: BackendPath) -> DiskFile {
        DiskFile(devicePath: paths.devicePath(p.device), partition: p.partition,
                 hash: paths.hashPath.hash(account: p.account, container: p.container, object: p.object))
    }

    func handle(_ request: HTTPRequest, _ p: BackendPath) async throws -> HTTPResponse {
        switch request.method {
        case "PUT": return try await put(request, p)
        case "GET", "HEAD": return try await read(request, p)
        case "POST": return try await post(request, p)
        case "DELETE": return try await delete(request, p)
        default: throw HTTPError(405, "Method not allowed")
        }
    }

    // MARK: PUT

    func put(_ request: HTTPRequest, _ p: BackendPath) async throws -> HTTPResponse {
        let ts = try request.requiredTimestamp()
        guard request.contentLength != nil || request.isChunked else { throw HTTPError(411, "Missing Content-Length") }
        // A body with footers comes chunked; the proxy still says how long it is.
        let declaredLength = request.contentLength ?? request.header("x-backend-obj-content-length").flatMap { Int64($0) }
        if let len = declaredLength, len > constraints.maxFileSize { throw HTTPError(413, "Your request is too large.") }
        guard let contentType = request.header("content-type") else { throw HTTPError.badRequest("No content type") }
        let deleteAt = try deleteAtHeader(request)
        let file = diskFile(p)

        // Last write wins: refuse an older or equal timestamp before reading a byte of the body.
        let ifNoneMatch = request.header("if-none-match") == "*"
        let now = clock.now()
        let opened: OpenedWrite = try await pools.run(p.device) {
            let prepared = try file.prepareWrite(open: ifNoneMatch)
            if let (existing, _) = prepared.newest, existing >= ts {
                prepared.writer.abort()
                return .conflict(existing)
            }
            if ifNoneMatch, case .present(let r) = prepared.state, !Self.isExpired(r.metadata, now: now) {
                prepared.writer.abort()
                return .exists
            }
            return .writer(WriterBox(prepared.writer))
        }
        let writer: WriterBox
        switch opened {
        case .conflict(let existing): return HTTPResponse(status: 409, headers: ["X-Backend-Timestamp": existing.internalForm])
        case .exists: return HTTPResponse(status: 412)
        case .writer(let w): writer = w
        }
        do {
            // Network chunks are small; gather them so each trip to the disk pool moves ~256 KiB.
            // One buffer serves the whole body: it is cleared, not reallocated, after each trip.
            var pending = ByteBuffer()
            var received: Int64 = 0
            for try await chunk in request.body {
                received += Int64(chunk.readableBytes)
                if received > constraints.maxFileSize { throw HTTPError(413, "Your request is too large.") }
                if pending.readableBytes == 0, chunk.readableBytes >= Self.writeBatch {
                    // A large read (a big upload's) goes to the disk as it is, without gathering.
                    try await pools.run(p.device) { try chunk.withUnsafeReadableBytes { try writer.write($0) } }
                    continue
                }
                if pending.capacity == 0 {
                    // Sized for the body when it is small, for one batch and a chunk when not.
                    let body = Int(clamping: declaredLength ?? Int64(Self.writeBatch))
                    pending.reserveCapacity(min(body, Self.writeBatch) + chunk.readableBytes)
                }
                var c = chunk
                pending.writeBuffer(&c)
                if pending.readableBytes >= Self.writeBatch {
                    try await pools.run(p.device) { [pending] in try pending.withUnsafeReadableBytes { try writer.write($0) } }
                    pending.clear()
                }
            }
            if pending.readableBytes > 0 {
                let batch = pending
                try await pools.run(p.device) { try batch.withUnsafeReadableBytes { try writer.write($0) } }
            }
            let written = writer.bytesWritten
            if let len = declaredLength, written != len {
                throw HTTPError(499, "Client disconnected: \(written) of \(len) bytes")
            }
            let etag = writer.finalizeETag()
            if let expected = request.header("etag")?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
               expected.lowercased() != etag {
                throw HTTPError(422, "Unprocessable Entity: ETag does not match the MD5 of the body")
            }
            var meta: [String: String] = [
                "name": "/\(p.account)/\(p.container!)/\(p.object!)", "X-Timestamp": ts.internalForm,
                "Content-Type": contentType, "Content-Length": String(written), "ETag": etag,
            ]
            for (name, value) in request.headers where UserMetadata.isStoredObjectHeader(name) {
                meta[UserMetadata.titleCase(name)] = value
            }
            // Footers: system metadata the proxy learned only from the bytes (a checksum).
            for (name, value) in request.body.trailers ?? [:] where name.lowercased().hasPrefix("x-object-sysmeta-") {
                meta[UserMetadata.titleCase(name)] = value
            }
            if let deleteAt { meta["X-Delete-At"] = String(deleteAt) }
            let finalMeta = meta
            do {
                let queue = ExpiringObjects(devicePath: paths.devicePath(p.device))
                try await pools.run(p.device) {
                    try writer.commit(metadata: finalMeta, timestamp: ts)
                    if let deleteAt { try queue.add(.init(deleteAt: deleteAt, partition: p.partition, hash: file.hash)) }
                }
            } catch DiskFileError.exists {
                return HTTPResponse(status: 409, headers: ["X-Backend-Timestamp": ts.internalForm])
            }
            let row = Self.containerRow(size: String(written), contentType: contentType, etag: etag,
                                        requestHeaders: request.headers, metadata: finalMeta)
            await updater.send(request: request, path: p, method: "PUT", timestamp: ts, extra: row)
            return HTTPResponse(status: 201, headers: ["ETag": etag])
        } catch {
            writer.abort()
            if let e = error as? DiskFileError, case .io(let why) = e, why.contains("no space") {
                throw HTTPError(507, "Insufficient Storage")
            }
            throw error
        }
    }

    func deleteAtHeader(_ request: HTTPRequest) throws -> Int64? {
        guard let v = request.header("x-delete-at") else { return nil }
        guard let at = Int64(v.split(separator: ".").first ?? "") else { throw HTTPError.badRequest("Non-integer X-Delete-At") }
        return at
    }

    // MARK: POST

    func post(_ request: HTTPRequest, _ p: BackendPath) async throws -> HTTPResponse {
        let ts = try request.requiredTimestamp()
        let deleteAt = try deleteAtHeader(request)
        let file = diskFile(p)
        var meta: [String: String] = [:]
        for (name, value) in request.headers where UserMetadata.isStoredObjectHeader(name) {
            meta[UserMetadata.titleCase(name)] = value
        }
        if let ct = request.header("content-type") { meta["Content-Type"] = ct }
        if let deleteAt { meta["X-Delete-At"] = String(deleteAt) }
        let now = clock.now()
        let postMeta = meta
        let queue = ExpiringObjects(devicePath: paths.devicePath(p.device))
        let (response, listing): (HTTPResponse, [String: String]?) = try await pools.run(p.device) {
            var meta = postMeta
            guard case .present(let reader) = try file.open(), !Self.isExpired(reader.metadata, now: now) else {
                return (HTTPResponse(status: 404), nil)
            }
            let newest = max(reader.dataTimestamp, reader.metadata["X-Meta-Timestamp"].flatMap { Timestamp($0) } ?? .zero)
            if newest >= ts { return (HTTPResponse(status: 409, headers: ["X-Backend-Timestamp": newest.internalForm]), nil) }
            let dataContentType = reader.dataMetadata["Content-Type"] ?? ""
            var listedType = meta["Content-Type"] ?? reader.metadata["Content-Type"] ?? ""
            if meta["Content-Type"] == nil { meta["Content-Type"] = reader.metadata["Content-Type"] }
            if ContentTypeParams.swiftBytes(listedType) == nil, let bytes = ContentTypeParams.swiftBytes(dataContentType) {
                // SLO keeps the segments' total in the listing's content type; a new type must carry it on.
                listedType += ";swift_bytes=\(bytes)"
            }
            try file.post(metadata: meta, at: ts)
            if let deleteAt { try queue.add(.init(deleteAt: deleteAt, partition: p.partition, hash: file.hash)) }
            let row = Self.containerRow(size: String(reader.contentLength), contentType: listedType, etag: reader.etag,
                                        requestHeaders: HTTPHeaders(), metadata: reader.dataMetadata)
            // Middleware learns from the POST response what it landed on (a symlink, say).
            var sysmeta = HTTPHeaders()
            for (k, v) in reader.dataMetadata where k.lowercased().hasPrefix("x-object-sysmeta-") { sysmeta.add(name: k, value: v) }
            return (HTTPResponse(status: 202, headers: sysmeta), row)
        }
        // Every POST updates the listing (as Swift does): a lost PUT update is repaired by it.
        if let listing {
            await updater.send(request: request, path: p, method: "PUT", timestamp: ts, extra: listing)
        }
        return response
    }

    /// The listing row a container update carries, with the overrides middleware asked for:
    /// `X-Backend-Container-Update-Override-*` on the request, then the stored
    /// `X-Object-Sysmeta-Container-Update-Override-*` (SLO and symlinks set these).
    static func containerRow(size: String, contentType: String, etag: String, requestHeaders: HTTPHeaders,
                             metadata: [String: String]) -> [String: String] {
        var row = ["X-Size": size, "X-Content-Type": contentType, "X-Etag": etag]
        let overrides = requestHeaders.map { ($0.name, $0.value) } + metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        for (name, value) in overrides {
            let l = name.lowercased()
            for prefix in ["x-backend-container-update-override-", "x-object-sysmeta-container-update-override-"] where l.hasPrefix(prefix) {
                let field = String(l.dropFirst(prefix.count))
                guard ["size", "etag", "content-type"].contains(field) else { continue }
                // `; name=value` alone adds parameters to the object's own ETag (s3api's part checksum).
                if field == "etag", value.hasPrefix(";") { row["X-Etag"] = etag + value } else { row[UserMetadata.titleCase("x-" + field)] = value }
            }
        }
        return row
    }

    // MARK: DELETE

    func delete(_ request: HTTPRequest, _ p: BackendPath) async throws -> HTTPResponse {
        let ts = try request.requiredTimestamp()
        let file = diskFile(p)
        let name = "/\(p.account)/\(p.container!)/\(p.object!)"
        let now = clock.now()
        let ifDeleteAt = request.header("x-if-delete-at")
        let status: Int = try await pools.run(p.device) {
            var existed = false
            switch try file.open() {
            case .present(let r):
                if r.dataTimestamp >= ts { return -Int(409) }
                existed = !Self.isExpired(r.metadata, now: now)
                if let ifDeleteAt, r.metadata["X-Delete-At"] != ifDeleteAt { return -412 }
            case .deleted(let t):
                if t >= ts { return -Int(409) }
                if ifDeleteAt != nil { return -404 }
            case .missing:
                if ifDeleteAt != nil { return -404 }
            }
            try file.delete(at: ts, name: name)
            return existed ? 204 : 404
        }
        if status < 0 { return HTTPResponse(status: -status) }
        await updater.send(request: request, path: p, method: "DELETE", timestamp: ts, extra: [:])
        return HTTPResponse(status: status)
    }

    static func isExpired(_ meta: [String: String], now: Double) -> Bool {
        guard let v = meta["X-Delete-At"], let at = Double(v) else { return false }
        return at <= now
    }
}

/// The outcome of opening a PUT: a newer version exists, or a writer for the new one.
enum OpenedWrite: Sendable {
    case conflict(Timestamp)
    /// `If-None-Match: *` and the object exists.
    case exists
    case writer(WriterBox)
}

/// Owns a `DiskFileWriter` while it moves between the request task and the device pool.
final class WriterBox: @unchecked Sendable {
    // @unchecked: the request task hands the writer to exactly one pool job at a time and awaits
    // it, so the writer is never touched by two threads at once.
    let writer: DiskFileWriter
    init(_ writer: DiskFileWriter) { self.writer = writer }
    var bytesWritten: Int64 { writer.bytesWritten }
    func write(_ b: UnsafeRawBufferPointer) throws { try writer.write(b) }
    func finalizeETag() -> String { writer.finalizeETag() }
    func commit(metadata: [String: String], timestamp: Timestamp) throws { try writer.commit(metadata: metadata, timestamp: timestamp) }
    func abort() { writer.abort() }
}
