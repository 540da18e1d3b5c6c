import Foundation
import HTTPServerKit

/// `partNumber` on GetObject and HeadObject: the bytes of one part of a completed multipart
/// upload, found in its manifest (as S3 answers: 206 with `x-amz-mp-parts-count`). A plain
/// object has one part, itself.
enum S3PartRange {
    /// One part of a completed multipart upload, as its manifest lists it.
    struct Part {
        /// `/<bucket>+segments/<key>/<upload id>/<n>`.
        let path: String
        let size: Int64
    }

    /// The parts of a completed multipart upload (nil for any other object); `NoSuchKey` for
    /// a missing object.
    static func parts(_ call: S3Call, _ bucket: String, _ key: String) async throws -> [Part]? {
        let head = try await call.swift("HEAD", bucket, key, query: [("multipart-manifest", "get")])
        guard (200..<300).contains(head.status) else { throw try await S3Objects.refusal(call, head.status, bucket, key) }
        let isMultipart = head.headers.first(name: "x-static-large-object")?.lowercased() == "true"
            && head.headers.first(name: "x-object-sysmeta-s3api-etag") != nil
        guard isMultipart else { return nil }
        let manifest = try await call.swift("GET", bucket, key, query: [("multipart-manifest", "get")])
        guard manifest.status == 200 else { throw try await S3Objects.refusal(call, manifest.status, bucket, key) }
        let body = try await S3Call.collect(manifest, limit: 8 << 20)
        guard let entries = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] else {
            throw S3Error("InternalError", "The multipart object's manifest could not be read.", status: 500)
        }
        return entries.map { Part(path: ($0["name"] as? String) ?? "", size: ($0["bytes"] as? NSNumber)?.int64Value ?? 0) }
    }

    /// The `Range` of part `part` (nil: the whole object), the object's part count and the
    /// part (nil for a plain object); `NoSuchKey` for a missing object, `InvalidPart` past its
    /// last part.
    static func find(_ call: S3Call, _ bucket: String, _ key: String, part: Int) async throws -> (range: String?, count: Int, part: Part?) {
        guard let parts = try await parts(call, bucket, key) else {
            guard part == 1 else { throw invalidPart(part) }
            return (nil, 1, nil)
        }
        let sizes = parts.map(\.size)
        guard part <= sizes.count else { throw invalidPart(part) }
        let start = sizes[..<(part - 1)].reduce(0, +)
        let size = sizes[part - 1]
        guard size > 0 else { return (nil, sizes.count, parts[part - 1]) }  // an empty object of one empty part: nothing to range over
        return ("bytes=\(start)-\(start + size - 1)", sizes.count, parts[part - 1])
    }

    static func invalidPart(_ part: Int) -> S3Error {
        S3Error("InvalidPart", "The requested partnumber is not satisfiable", details: [("PartNumber", String(part))])
    }
}
