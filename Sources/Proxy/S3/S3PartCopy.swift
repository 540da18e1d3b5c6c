import Foundation
import HTTPServerKit
import NIOHTTP1
import NimbusCore

extension S3Multipart {
    /// UploadPartCopy: `x-amz-copy-source` (and `x-amz-copy-source-range: bytes=first-last`)
    /// becomes the part, copied by the proxy (`X-Copy-From` with `Range`) without passing
    /// through here.
    static func uploadPartCopy(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String, _ n: Int) async throws -> HTTPResponse {
        let source = try await S3Objects.copySource(call)
        let (fromBucket, fromKey) = (source.bucket, source.key)
        var headers = HTTPHeaders()
        if let text = call.request.header("x-amz-copy-source-range") {
            guard let (first, last) = copyRange(text) else {
                throw S3Error.invalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                                              name: "x-amz-copy-source-range", value: text)
            }
            let head = try await call.swift("HEAD", fromBucket, fromKey, account: source.account)
            guard (200..<300).contains(head.status) else { throw try await S3Objects.refusal(call, head.status, fromBucket, fromKey) }
            let length = head.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
            guard last < length else {
                throw S3Error("InvalidRange", "The requested range is not satisfiable", status: 416,
                              details: [("RangeRequested", text), ("ActualObjectSize", String(length))])
            }
            headers.add(name: "Range", value: "bytes=\(first)-\(last)")
        }
        try await S3Objects.checkCopySourceConditions(call, source)
        headers.add(contentsOf: source.swiftHeaders(for: call))
        headers.add(name: "X-Fresh-Metadata", value: "true")
        // A range of the source does not have the source's checksum: none is kept (completing
        // the upload computes it from the part's bytes).
        if headers.first(name: "range") != nil { call.env.scope.objectSysmeta = [(S3BodyCheck.sysmeta, "")] }
        call.env.scope.copySourcePin = source.pin
        defer {
            call.env.scope.objectSysmeta = []
            call.env.scope.copySourcePin = []
        }
        let r = try await call.swift("PUT", segments(bucket), "\(key)/\(uploadID)/\(n)", headers: headers)
        guard r.status == 201 else {
            if r.status == 404 { throw S3Error.noSuchKey(fromKey) }
            throw S3Error.fromSwift(r.status == 304 ? 412 : r.status, bucket: bucket, key: key)
        }
        let etag = S3Objects.quoted(r.headers.first(name: "etag") ?? "")
        let modified = r.headers.first(name: "last-modified").flatMap(S3XML.time(fromHTTPDate:)) ?? S3XML.iso8601(Date().timeIntervalSince1970)
        let xml = S3XML.document("CopyPartResult", S3XML.e("LastModified", modified) + S3XML.e("ETag", etag))
        return S3XML.response(xml, requestID: call.requestID)
    }

    /// `bytes=first-last`, digits only, first ≤ last (what UploadPartCopy accepts).
    static func copyRange(_ text: String) -> (Int64, Int64)? {
        guard text.hasPrefix("bytes=") else { return nil }
        let parts = text.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 18 && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              let first = Int64(parts[0]), let last = Int64(parts[1]), first <= last else { return nil }
        return (first, last)
    }
}
