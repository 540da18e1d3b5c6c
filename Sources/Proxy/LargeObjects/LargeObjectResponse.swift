import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Builds the client's response for a large object (DLO or SLO) from its length, ETag and a
/// planner of segment pieces: conditionals (for DLO; the object server already judged an SLO's
/// against its stored ETag), one range (206), several ranges (multipart/byteranges, SLO only,
/// as Swift answers) or the whole body.
struct LargeObjectResponse {
    let proxy: ObjectProxy
    let request: HTTPRequest
    /// Response headers without length, range or ETag.
    var headers: HTTPHeaders
    let total: Int64
    /// The quoted large-object ETag.
    let etag: String
    let multipleRanges: Bool
    let evaluateConditionals: Bool
    /// The pieces covering one inclusive byte range of the large object, produced lazily.
    let plan: @Sendable (ClosedRange<Int64>) -> any SegmentPlan

    func respond() async throws -> HTTPResponse {
        do {
            return try await build()
        } catch let error as SegmentError {
            // A segment or nested manifest that cannot be read before the first byte is sent.
            proxy.context.logger.warning("large object \(request.path): \(error)", metadata: ["txid": "\(request.transactionID)"])
            return .error(409)
        }
    }

    private func build() async throws -> HTTPResponse {
        guard total >= 0 else { throw HTTPError(500, "Large object has a negative length") }
        var headers = self.headers
        for name in ["content-length", "content-range", "etag"] { headers.remove(name: name) }
        headers.replaceOrAdd(name: "ETag", value: etag)
        headers.replaceOrAdd(name: "Accept-Ranges", value: "bytes")
        if evaluateConditionals, let status = conditionalStatus() {
            headers.replaceOrAdd(name: "Content-Length", value: status == 412 ? "0" : String(total))
            return HTTPResponse(status: status, headers: headers)
        }
        var ranges: [ClosedRange<Int64>] = []
        if let resolved = RangeSpec.resolve(request.header("range"), length: total) {
            if resolved.isEmpty {
                headers.replaceOrAdd(name: "Content-Range", value: "bytes */\(total)")
                headers.replaceOrAdd(name: "Content-Length", value: "0")
                return HTTPResponse(status: 416, headers: headers, body: .empty)
            }
            if resolved.count == 1 || multipleRanges { ranges = resolved }
        }
        if ranges.count > 1 { return try await multipart(ranges, headers: headers) }
        let range = ranges.first
        var status = 200
        if let range {
            status = 206
            headers.replaceOrAdd(name: "Content-Range", value: "bytes \(range.lowerBound)-\(range.upperBound)/\(total)")
        }
        headers.replaceOrAdd(name: "Content-Length", value: String(range.map { Int64($0.count) } ?? total))
        if request.method == "HEAD" { return HTTPResponse(status: status, headers: headers) }
        let pieces = total == 0 ? ListPlan([]) : plan(range ?? 0...(total - 1))
        return try await stream(status: status, headers: headers, plan: pieces)
    }

    private func multipart(_ ranges: [ClosedRange<Int64>], headers base: HTTPHeaders) async throws -> HTTPResponse {
        let boundary = Hex.encode(Digests.randomBytes(12))
        let partType = base.first(name: "content-type") ?? "application/octet-stream"
        var parts: [MultipartRangesPlan.Part] = []
        var length: Int64 = 0
        for (i, r) in ranges.enumerated() {
            let sep = (i == 0 ? "" : "\r\n") + "--\(boundary)\r\nContent-Type: \(partType)\r\n"
                + "Content-Range: bytes \(r.lowerBound)-\(r.upperBound)/\(total)\r\n\r\n"
            parts.append((ByteBuffer(string: sep), r))
            // At most 50 ranges of an Int64-sized object: the sum can still pass Int64.max.
            length = length.clampedAdding(Int64(sep.utf8.count)).clampedAdding(Int64(r.count))
        }
        let trailer = "\r\n--\(boundary)--"
        length = length.clampedAdding(Int64(trailer.utf8.count))
        guard length < Int64.max else { throw HTTPError(416, "Requested Range Not Satisfiable") }
        var headers = base
        headers.replaceOrAdd(name: "Content-Type", value: "multipart/byteranges;boundary=\(boundary)")
        headers.replaceOrAdd(name: "Content-Length", value: String(length))
        if request.method == "HEAD" { return HTTPResponse(status: 206, headers: headers) }
        let plan = MultipartRangesPlan(parts: parts, trailer: ByteBuffer(string: trailer), plan: self.plan)
        return try await stream(status: 206, headers: headers, plan: plan)
    }

    private func stream(status: Int, headers: HTTPHeaders, plan: any SegmentPlan) async throws -> HTTPResponse {
        let reader = SegmentReader(proxy: proxy, plan: plan, txid: request.transactionID, referer: request.header("referer"))
        try await reader.prime()
        let logger = proxy.context.logger
        let txid = request.transactionID
        return HTTPResponse(status: status, headers: headers, body: .stream { writer in
            do {
                while let part = try await reader.next() { try await writer.write(part) }
            } catch {
                // Headers are gone: the client sees a short body and a closed connection.
                logger.error("large object body cut: \(error)", metadata: ["txid": "\(txid)"])
                reader.cancel()
                throw error
            }
        })
    }

    /// If-Match / If-None-Match against the large object's ETag.
    private func conditionalStatus() -> Int? {
        let bare = etag.trimmingCharacters(in: ["\""])
        func matches(_ h: String) -> Bool {
            h.split(separator: ",").contains { t in
                let v = t.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["\""])
                return v == "*" || v == bare
            }
        }
        if let im = request.header("if-match"), !matches(im) { return 412 }
        if let inm = request.header("if-none-match"), matches(inm) { return 304 }
        return nil
    }
}
