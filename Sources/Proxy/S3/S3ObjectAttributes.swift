import Foundation
import HTTPServerKit
import NIOHTTP1

/// GetObjectAttributes (`GET /bucket/key?attributes`, `x-amz-object-attributes: ETag,
/// Checksum, ObjectParts, StorageClass, ObjectSize`): what HEAD tells, plus a completed
/// multipart upload's parts (paged by `x-amz-max-parts` / `x-amz-part-number-marker`) with
/// their sizes and checksums.
enum S3ObjectAttributes {
    static let names: Set<String> = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]

    static func get(_ call: S3Call, _ bucket: String, _ key: String) async throws -> HTTPResponse {
        let header = call.request.header("x-amz-object-attributes") ?? ""
        let wanted = Set(header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        guard !wanted.isEmpty, wanted.isSubset(of: names) else {
            throw S3Error.invalidArgument("Invalid attribute name specified.", name: "x-amz-object-attributes", value: header)
        }
        let maxParts = try S3ListObjects.maxKeys(call.request.header("x-amz-max-parts"), limit: 1000)
        var after = 0
        if let text = call.request.header("x-amz-part-number-marker") {
            guard let n = Int(text), n >= 0 else {
                throw S3Error.invalidArgument("Invalid part-number-marker", name: "x-amz-part-number-marker", value: text)
            }
            after = n
        }
        let head = try await call.swift("HEAD", bucket, key)
        guard head.status == 200 else { throw try await S3Objects.refusal(call, head.status, bucket, key) }
        guard S3Access.stillAllowed(call, head.headers) else { throw S3Error.accessDenied }
        var xml = ""
        if wanted.contains("ETag") {
            let etag = head.headers.first(name: "x-object-sysmeta-s3api-etag") ?? head.headers.first(name: "etag") ?? ""
            xml += S3XML.e("ETag", etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        }
        if wanted.contains("Checksum"), let (algorithm, value) = head.headers.first(name: S3BodyCheck.sysmeta).flatMap(S3MultipartChecksum.split) {
            xml += "<Checksum>" + S3XML.e("Checksum" + algorithm, value)
                + S3XML.e("ChecksumType", head.headers.first(name: S3MultipartChecksum.typeSysmeta) ?? "FULL_OBJECT") + "</Checksum>"
        }
        if wanted.contains("ObjectParts"), let uploadID = head.headers.first(name: "x-object-sysmeta-s3api-upload-id"),
           let parts = try await S3PartRange.parts(call, bucket, key) {
            // The parts' checksums ride in their listing (`; s3_checksum=`), read once.
            var checksums: [Int: String] = [:]
            if S3MultipartChecksum(stored: head.headers) != nil {
                for p in try await S3Multipart.parts(call, bucket, key, uploadID) { checksums[p.number] = p.checksum }
            }
            let numbered = parts.enumerated().map { (number: $0.offset + 1, size: $0.element.size) }.filter { $0.number > after }
            let page = numbered.prefix(maxParts)
            xml += "<ObjectParts>" + S3XML.e("PartsCount", String(parts.count)) + S3XML.e("PartNumberMarker", String(after))
                + S3XML.e("NextPartNumberMarker", String(page.last?.number ?? after)) + S3XML.e("MaxParts", String(maxParts))
                + S3XML.e("IsTruncated", numbered.count > page.count ? "true" : "false")
            for p in page {
                xml += "<Part>" + S3XML.e("PartNumber", String(p.number)) + S3XML.e("Size", String(p.size))
                    + S3Multipart.checksumElement(checksums[p.number]) + "</Part>"
            }
            xml += "</ObjectParts>"
        }
        if wanted.contains("StorageClass") { xml += S3XML.e("StorageClass", "STANDARD") }
        if wanted.contains("ObjectSize") { xml += S3XML.e("ObjectSize", head.headers.first(name: "content-length") ?? "0") }
        var response = S3XML.response(S3XML.document("GetObjectAttributesResponse", xml), requestID: call.requestID)
        if let modified = head.headers.first(name: "last-modified") { response.headers.add(name: "Last-Modified", value: modified) }
        return response
    }
}
