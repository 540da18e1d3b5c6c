import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore
import ObjectStore

extension ObjectController {
    /// GET and HEAD: conditional headers, ranges (single and multipart), and a streamed body
    /// whose MD5 is checked on full reads; a mismatch quarantines the file and cuts the connection.
    func read(_ request: HTTPRequest, _ p: BackendPath) async throws -> HTTPResponse {
        let file = diskFile(p)
        let now = clock.now()
        let state: DiskFile.State
        // A small object's bytes are read and checked in the same pool job as the open: one
        // trip to the device pool per GET, and damage found before anything is answered.
        let whole: ByteBuffer?
        // Only for a plain GET: a range or a conditional may not need the bytes at all.
        let wantsBody = request.method == "GET" && request.header("range") == nil
            && !["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"].contains { request.header($0) != nil }
        do {
            (state, whole) = try await pools.run(p.device) {
                let state = try file.open()
                guard wantsBody, case .present(let reader) = state, reader.contentLength <= Self.wholeReadLimit else { return (state, nil) }
                return (state, try Self.readWhole(reader))
            }
        } catch let error as DiskFileError {
            // Only damage is quarantined; an I/O hiccup is not a reason to move good data aside.
            guard case .corrupt = error else { throw HTTPError(503, "Cannot read object: \(error)") }
            logger.warning("quarantining \(file.directory): \(error)", metadata: ["txid": "\(request.transactionID)"])
            try? await pools.run(p.device) { try file.quarantine() }
            return HTTPResponse(status: 404)
        }
        let reader: ObjectReader
        switch state {
        case .missing:
            return HTTPResponse(status: 404)
        case .deleted(let ts):
            return HTTPResponse(status: 404, headers: ["X-Backend-Timestamp": ts.internalForm])
        case .present(let r):
            if Self.isExpired(r.metadata, now: now) {
                return HTTPResponse(status: 404, headers: ["X-Backend-Timestamp": r.dataTimestamp.internalForm])
            }
            reader = r
        }

        var headers = HTTPHeaders()
        let meta = reader.metadata
        let etag = reader.etag
        let length = reader.contentLength
        headers.add(name: "Content-Type", value: meta["Content-Type"] ?? "application/octet-stream")
        headers.add(name: "ETag", value: etag)
        headers.add(name: "Last-Modified", value: HTTPDate.format(reader.dataTimestamp.ceilSeconds))
        headers.add(name: "X-Timestamp", value: reader.dataTimestamp.normal)
        headers.add(name: "X-Backend-Timestamp", value: reader.dataTimestamp.internalForm)
        headers.add(name: "Accept-Ranges", value: "bytes")
        for (k, v) in meta.sorted(by: { $0.key < $1.key }) where UserMetadata.isStoredObjectHeader(k) {
            headers.add(name: k, value: v)
        }

        // Middleware may name metadata holding the ETag conditionals compare with (SLO's ETag).
        let conditionalETag = Self.metadataValue(meta, named: request.header("x-backend-etag-is-at")) ?? etag
        if let status = conditionalStatus(request, etag: conditionalETag, lastModified: reader.dataTimestamp.ceilSeconds) {
            headers.replaceOrAdd(name: "Content-Length", value: "0")
            return HTTPResponse(status: status, headers: headers)
        }

        // A manifest is read whole: the proxy applies the range to the large object.
        let ignoreRange = Self.metadataValue(meta, named: request.header("x-backend-ignore-range-if-metadata-present")) != nil
        let ranges = ignoreRange ? nil : RangeSpec.resolve(request.header("range"), length: length)
        if let ranges {
            if ranges.isEmpty {
                headers.replaceOrAdd(name: "Content-Range", value: "bytes */\(length)")
                headers.replaceOrAdd(name: "Content-Length", value: "0")
                return HTTPResponse(status: 416, headers: headers)
            }
            if ranges.count == 1 {
                let r = ranges[0]
                headers.add(name: "Content-Range", value: "bytes \(r.lowerBound)-\(r.upperBound)/\(length)")
                headers.add(name: "Content-Length", value: String(r.count))
                return HTTPResponse(status: 206, headers: headers, body: stream(reader, ranges: [r], device: p.device, verify: nil))
            }
            return multipart(reader, ranges: ranges, headers: headers, device: p.device)
        }
        headers.add(name: "Content-Length", value: String(length))
        if let whole { return HTTPResponse(status: 200, headers: headers, body: .bytes(whole)) }
        let verify = VerifyContext(file: file, pools: pools, device: p.device, etag: etag)
        return HTTPResponse(status: 200, headers: headers,
                            body: stream(reader, ranges: length > 0 ? [0...length - 1] : [], device: p.device, verify: length > 0 ? verify : nil))
    }

    /// Objects up to this size are read whole with their open (`readWhole`).
    static let wholeReadLimit: Int64 = 64 << 10

    /// All of a small object's bytes, their MD5 checked against the stored ETag.
    static func readWhole(_ reader: ObjectReader) throws -> ByteBuffer {
        let length = Int(reader.contentLength)
        // An empty object has nothing to check (the streamed read never checked one either).
        if length == 0 { return ByteBuffer() }
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        while buffer.readableBytes < length {
            try read(reader, at: Int64(buffer.readableBytes), count: length - buffer.readableBytes, into: &buffer)
        }
        var md5 = MessageDigest(.md5)
        buffer.withUnsafeReadableBytes { md5.update($0) }
        guard md5.finalizeHexAndReset() == reader.etag else { throw DiskFileError.corrupt("MD5 mismatch") }
        return buffer
    }

    /// Appends up to `count` bytes of the object from `offset` to `buffer` (one `pread`); no byte
    /// where the object's length says there are some is damage.
    static func read(_ reader: ObjectReader, at offset: Int64, count: Int, into buffer: inout ByteBuffer) throws {
        let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw.prefix(count)), at: offset)
        }
        if n == 0 { throw DiskFileError.corrupt("short read") }
    }

    /// The value of the first metadata item listed (comma-separated, any case) in `names`.
    static func metadataValue(_ meta: [String: String], named names: String?) -> String? {
        guard let names else { return nil }
        for name in names.split(separator: ",") {
            let wanted = name.trimmingCharacters(in: .whitespaces).lowercased()
            if let hit = meta.first(where: { $0.key.lowercased() == wanted }) { return hit.value }
        }
        return nil
    }

    /// If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since, in Swift's order.
    func conditionalStatus(_ request: HTTPRequest, etag: String, lastModified: Int64) -> Int? {
        func matches(_ header: String) -> Bool {
            header.split(separator: ",").contains { raw in
                let t = raw.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return t == "*" || t == etag
            }
        }
        if let im = request.header("if-match"), !matches(im) { return 412 }
        if let inm = request.header("if-none-match"), matches(inm) { return 304 }
        if request.header("if-none-match") == nil, let ims = request.header("if-modified-since"),
           let since = HTTPDate.parse(ims), lastModified <= since {
            return 304
        }
        if let ius = request.header("if-unmodified-since"),
           let since = HTTPDate.parse(ius), lastModified > since {
            return 412
        }
        return nil
    }

    struct VerifyContext: Sendable {
        let file: DiskFile
        let pools: DevicePools
        let device: String
        let etag: String
    }

    /// Streams byte ranges of the object in 64 KiB reads on the device pool.
    func stream(_ reader: ObjectReader, ranges: [ClosedRange<Int64>], device: String, verify: VerifyContext?,
                between: (@Sendable (Int) -> ByteBuffer?)? = nil, trailer: ByteBuffer? = nil) -> HTTPResponse.Body {
        let pools = self.pools
        let logger = self.logger
        return .stream { writer in
            let md5 = verify.map { _ in MD5Box() }
            // When verifying, the last chunk is held back until the MD5 matches: a client never
            // receives a whole body whose bytes are wrong (it sees the connection cut instead).
            var held: ByteBuffer?
            for (index, range) in ranges.enumerated() {
                if let between, let sep = between(index) { try await writer.write(sep) }
                var offset = range.lowerBound
                let end = range.upperBound + 1
                while offset < end {
                    let want = Int(min(Int64(Self.chunkSize), end - offset))
                    let at = offset
                    let buffer: ByteBuffer = try await pools.run(device) {
                        var b = ByteBufferAllocator().buffer(capacity: want)
                        try Self.read(reader, at: at, count: want, into: &b)
                        md5?.update(b)
                        return b
                    }
                    offset += Int64(buffer.readableBytes)
                    if verify != nil {
                        if let previous = held { try await writer.write(previous) }
                        held = buffer
                    } else {
                        try await writer.write(buffer)
                    }
                }
            }
            if let verify, let md5, md5.hex() != verify.etag {
                logger.error("MD5 mismatch on read of \(verify.file.directory): quarantined")
                try? await verify.pools.run(verify.device) { try verify.file.quarantine() }
                throw DiskFileError.corrupt("MD5 mismatch")
            }
            if let held { try await writer.write(held) }
            if let trailer { try await writer.write(trailer) }
        }
    }

    func multipart(_ reader: ObjectReader, ranges: [ClosedRange<Int64>], headers: HTTPHeaders, device: String) -> HTTPResponse {
        let boundary = Hex.encode(Digests.randomBytes(12))
        let contentType = headers.first(name: "content-type") ?? "application/octet-stream"
        let length = reader.contentLength
        let separators = ranges.enumerated().map { i, r in
            (i == 0 ? "" : "\r\n") + "--\(boundary)\r\nContent-Type: \(contentType)\r\n"
                + "Content-Range: bytes \(r.lowerBound)-\(r.upperBound)/\(length)\r\n\r\n"
        }
        let trailer = "\r\n--\(boundary)--"
        let total = separators.reduce(0) { $0 + $1.utf8.count } + ranges.reduce(0) { $0 + $1.count } + trailer.utf8.count
        var h = headers
        h.replaceOrAdd(name: "Content-Type", value: "multipart/byteranges;boundary=\(boundary)")
        h.replaceOrAdd(name: "Content-Length", value: String(total))
        return HTTPResponse(status: 206, headers: h,
                            body: stream(reader, ranges: ranges, device: device, verify: nil,
                                         between: { ByteBuffer(string: separators[$0]) }, trailer: ByteBuffer(string: trailer)))
    }
}

/// An MD5 accumulated across pool jobs of one response, one job at a time.
final class MD5Box: @unchecked Sendable {
    // @unchecked: updated only from the pool job of the current chunk, which the streaming task
    // awaits before starting the next, so accesses never overlap.
    private var digest = MessageDigest(.md5)
    func update(_ b: ByteBuffer) { b.withUnsafeReadableBytes { digest.update($0) } }
    func hex() -> String { digest.finalizeHexAndReset() }
}
