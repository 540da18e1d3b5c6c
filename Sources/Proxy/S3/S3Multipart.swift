import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Multipart uploads, kept as Swift's s3api keeps them: the parts and a marker object of each
/// upload in the container `<bucket>+segments` (`<key>/<upload id>` and `<key>/<upload id>/<part>`),
/// completed into a static large object whose S3 ETag is `"<MD5 of the parts' MD5s>-<count>"`.
enum S3Multipart {
    static let minPartSize: Int64 = 5 << 20
    static let maxParts = 10_000

    static func segments(_ bucket: String) -> String { bucket + "+segments" }

    /// `POST /bucket/key?uploads`.
    static func create(_ call: S3Call, _ bucket: String, _ key: String) async throws -> HTTPResponse {
        let head = try await call.swift("HEAD", bucket)
        guard head.status == 204 || head.status == 200 else { throw S3Error.fromSwift(head.status, bucket: bucket, key: nil) }
        let acl = try S3ACLRequests.forNewObject(call)
        let checksum = try S3MultipartChecksum.requested(call.request)
        let made = try await call.swift("PUT", segments(bucket))
        guard made.status == 201 || made.status == 202 else { throw S3Error.fromSwift(made.status, bucket: bucket, key: nil) }
        let uploadID = newUploadID()
        // The marker keeps what the completed object gets: its content headers and metadata.
        var headers = try S3Objects.swiftHeaders(call.request)
        headers.remove(name: "etag")
        headers.replaceOrAdd(name: "Content-Length", value: "0")
        if headers.first(name: "content-type") == nil { headers.add(name: "Content-Type", value: "application/octet-stream") }
        // The ACL the object will get and the checksum its parts must carry wait on the marker;
        // its initiator shows in the marker's listing.
        call.env.scope.objectSysmeta = (acl.map { [(S3ACL.objectSysmeta, $0.stored)] } ?? []) + (checksum?.sysmeta ?? [])
            + [("X-Object-Sysmeta-Container-Update-Override-Etag", "; s3_initiator=\(call.writer)")]
        let marker = try await call.swift("PUT", segments(bucket), "\(key)/\(uploadID)", headers: headers)
        call.env.scope.objectSysmeta = []
        guard marker.status == 201 else { throw S3Error.fromSwift(marker.status, bucket: bucket, key: key) }
        let xml = S3XML.document("InitiateMultipartUploadResult", S3XML.e("Bucket", bucket) + S3XML.e("Key", key) + S3XML.e("UploadId", uploadID))
        var response = S3XML.response(xml, requestID: call.requestID)
        if let checksum { response.headers.add(contentsOf: checksum.responseHeaders) }
        return response
    }

    /// 24 characters of base64url that start with a letter or digit: an id starting with `-`
    /// reads as an option to command-line clients (`aws s3api … --upload-id -x…` fails).
    static func newUploadID() -> String {
        while true {
            let id = Data(Digests.randomBytes(18)).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            if let first = id.utf8.first, first != UInt8(ascii: "-"), first != UInt8(ascii: "_") { return id }
        }
    }

    /// The upload's marker answer; `NoSuchUpload` when there is none.
    static func marker(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String) async throws -> HTTPResponse {
        // Ours are 24 characters of base64url: anything else (a part's name, say) is no upload.
        guard uploadID.utf8.count == 24, uploadID.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A)
            || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else { throw noSuchUpload(uploadID) }
        let r = try await call.swift("HEAD", segments(bucket), "\(key)/\(uploadID)")
        if r.status == 404 {
            let b = try await call.swift("HEAD", bucket)
            if b.status == 404 { throw S3Error.noSuchBucket(bucket) }
            throw noSuchUpload(uploadID)
        }
        guard r.status == 200 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: key) }
        return r
    }

    static func noSuchUpload(_ id: String) -> S3Error {
        S3Error("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
                status: 404, details: [("UploadId", id)])
    }

    static func partNumber(_ text: String?) throws(S3Error) -> Int {
        guard let text, let n = Int(text), (1...maxParts).contains(n) else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and \(maxParts), inclusive", name: "partNumber", value: text ?? "")
        }
        return n
    }

    /// `PUT /bucket/key?partNumber=N&uploadId=ID`.
    static func uploadPart(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String) async throws -> HTTPResponse {
        let n = try partNumber(call.target.query["partNumber"])
        let markerAnswer = try await marker(call, bucket, key, uploadID)
        if call.request.header("x-amz-copy-source") != nil { return try await uploadPartCopy(call, bucket, key, uploadID, n) }
        // A part of an upload with a checksum algorithm carries a checksum of it: declared,
        // trailed or computed here; kept with the part and in its listing.
        let upload = try S3Upload(call, uploadAlgorithm: S3MultipartChecksum(stored: markerAnswer.headers)?.algorithm)
        var headers = upload.framing
        if let md5 = try S3Objects.contentMD5(call.request) { headers.add(name: "ETag", value: Hex.encode(md5)) }
        let body = try await upload.prepared()
        upload.stage(on: call.env.scope, listed: true)
        let r = try await call.swift("PUT", segments(bucket), "\(key)/\(uploadID)/\(n)", headers: headers, body: body)
        if let failure = upload.failure { throw failure }
        guard r.status == 201 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: key) }
        return call.s3Response(200, headers: upload.responseHeaders(etag: r.headers.first(name: "etag")))
    }

    struct Part {
        let number: Int
        let etag: String
        let size: Int64
        let lastModified: String
        /// `ALG:value`, when the part has a checksum.
        let checksum: String?
    }

    /// The stored parts of an upload, by number (at most `maxParts`).
    static func parts(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String) async throws -> [Part] {
        var out: [Part] = []
        var marker = ""
        let prefix = "\(key)/\(uploadID)/"
        while out.count <= maxParts {
            let r = try await call.swift("GET", segments(bucket), query: [("format", "json"), ("prefix", prefix), ("marker", marker)])
            guard r.status == 200 || r.status == 204 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: key) }
            let body = try await S3Call.collect(r)
            let items = body.readableBytes == 0 ? [] : (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] ?? [])
            for item in items {
                guard let name = item["name"] as? String else { continue }
                marker = name
                guard let n = Int(name.dropFirst(prefix.count)), (1...maxParts).contains(n) else { continue }
                // `md5; s3_checksum=ALG:value`: the part's checksum rides in its listing.
                let (etag, params) = ContentTypeParams.headerParams((item["hash"] as? String) ?? "")
                out.append(Part(number: n, etag: etag, size: (item["bytes"] as? NSNumber)?.int64Value ?? 0,
                                lastModified: S3XML.time(fromSwiftListing: (item["last_modified"] as? String) ?? ""),
                                checksum: params.first { $0.0 == "s3_checksum" }?.1))
            }
            if items.count < 10000 { break }
        }
        return out.sorted { $0.number < $1.number }
    }

    /// `GET /bucket/key?uploadId=ID`: ListParts.
    static func listParts(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String) async throws -> HTTPResponse {
        let markerAnswer = try await marker(call, bucket, key, uploadID)
        let checksum = S3MultipartChecksum(stored: markerAnswer.headers)
        let initiator = S3Buckets.owner(S3Access.objectACL(markerAnswer.headers, call).owner)
        let q = call.target.query
        let maxParts = try S3ListObjects.maxKeys(q["max-parts"], limit: 1000)
        let after: Int
        if let text = q["part-number-marker"] {
            guard let n = Int(text), n >= 0 else { throw S3Error.invalidArgument("Invalid part-number-marker", name: "part-number-marker", value: text) }
            after = n
        } else {
            after = 0
        }
        let all = try await parts(call, bucket, key, uploadID).filter { $0.number > after }
        let page = Array(all.prefix(maxParts))
        var xml = S3XML.e("Bucket", bucket) + S3XML.e("Key", key) + S3XML.e("UploadId", uploadID)
        xml += "<Initiator>\(initiator)</Initiator><Owner>\(initiator)</Owner><StorageClass>STANDARD</StorageClass>"
        xml += S3XML.e("PartNumberMarker", String(after)) + S3XML.e("NextPartNumberMarker", String(page.last?.number ?? after))
        xml += S3XML.e("MaxParts", String(maxParts)) + S3XML.e("IsTruncated", all.count > page.count ? "true" : "false")
        if let checksum { xml += S3XML.e("ChecksumAlgorithm", checksum.algorithm) + S3XML.e("ChecksumType", checksum.type) }
        for p in page {
            xml += "<Part>" + S3XML.e("PartNumber", String(p.number)) + S3XML.e("LastModified", p.lastModified)
                + S3XML.e("ETag", "\"\(p.etag)\"") + S3XML.e("Size", String(p.size)) + checksumElement(p.checksum) + "</Part>"
        }
        return S3XML.response(S3XML.document("ListPartsResult", xml), requestID: call.requestID)
    }

    /// `DELETE /bucket/key?uploadId=ID`: the parts, then the marker.
    static func abort(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String) async throws -> HTTPResponse {
        _ = try await marker(call, bucket, key, uploadID)
        for p in try await parts(call, bucket, key, uploadID) {
            _ = try await call.swift("DELETE", segments(bucket), "\(key)/\(uploadID)/\(p.number)")
        }
        _ = try await call.swift("DELETE", segments(bucket), "\(key)/\(uploadID)")
        return call.s3Response(204)
    }

    /// `GET /bucket?uploads`: the uploads in progress (their markers), by key.
    static func listUploads(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        let head = try await call.swift("HEAD", bucket)
        guard head.status == 204 || head.status == 200 else { throw S3Error.fromSwift(head.status, bucket: bucket, key: nil) }
        let q = call.target.query
        let maxUploads = try S3ListObjects.maxKeys(q["max-uploads"], limit: 1000)
        let prefix = q["prefix"] ?? ""
        var query = [("format", "json")]
        if !prefix.isEmpty { query.append(("prefix", prefix)) }
        if let marker = q["key-marker"] { query.append(("marker", marker)) }
        let r = try await call.swift("GET", segments(bucket), query: query)
        var uploads: [(key: String, id: String, at: String, initiator: String)] = []
        if r.status == 200 {
            let body = try await S3Call.collect(r)
            let items = body.readableBytes == 0 ? [] : (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] ?? [])
            for item in items {
                guard let name = item["name"] as? String, let slash = name.lastIndex(of: "/") else { continue }
                let last = name[name.index(after: slash)...]
                // Parts end in their number; a marker ends in its upload id.
                if Int(last) != nil { continue }
                let initiator = ContentTypeParams.headerParams((item["hash"] as? String) ?? "").params.first { $0.0 == "s3_initiator" }?.1
                uploads.append((String(name[..<slash]), String(last), S3XML.time(fromSwiftListing: (item["last_modified"] as? String) ?? ""),
                                initiator ?? call.account))
            }
        }
        let page = Array(uploads.prefix(maxUploads))
        var xml = S3XML.e("Bucket", bucket) + S3XML.e("KeyMarker", q["key-marker"] ?? "") + S3XML.e("UploadIdMarker", "")
        if let last = page.last, uploads.count > page.count {
            xml += S3XML.e("NextKeyMarker", last.key) + S3XML.e("NextUploadIdMarker", last.id)
        }
        xml += S3XML.e("Prefix", prefix) + S3XML.e("MaxUploads", String(maxUploads)) + S3XML.e("IsTruncated", uploads.count > page.count ? "true" : "false")
        for u in page {
            xml += "<Upload>" + S3XML.e("Key", u.key) + S3XML.e("UploadId", u.id) + "<Initiator>\(S3Buckets.owner(u.initiator))</Initiator>"
                + "<Owner>\(S3Buckets.owner(u.initiator))</Owner><StorageClass>STANDARD</StorageClass>" + S3XML.e("Initiated", u.at) + "</Upload>"
        }
        return S3XML.response(S3XML.document("ListMultipartUploadsResult", xml), requestID: call.requestID)
    }
}
