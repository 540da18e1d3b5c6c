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
        let acl = try S3ACL.requested(call.request)
        let made = try await call.swift("PUT", segments(bucket))
        guard made.status == 201 || made.status == 202 else { throw S3Error.fromSwift(made.status, bucket: bucket, key: nil) }
        let uploadID = Data(Digests.randomBytes(18)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        // The marker keeps what the completed object gets: its content headers and metadata.
        var headers = try S3Objects.swiftHeaders(call.request)
        headers.remove(name: "etag")
        headers.replaceOrAdd(name: "Content-Length", value: "0")
        if headers.first(name: "content-type") == nil { headers.add(name: "Content-Type", value: "application/octet-stream") }
        if let algorithm = call.request.header("x-amz-checksum-algorithm") {
            guard S3BodyCheck.algorithms.contains(algorithm.uppercased()) else {
                throw S3Error.invalidArgument("Checksum algorithm provided is unsupported.", name: "x-amz-checksum-algorithm", value: algorithm)
            }
            headers.add(name: "X-Object-Meta-S3api-Checksum-Algorithm", value: algorithm.uppercased())
        }
        // The ACL the object will get waits on the marker.
        call.env.scope.objectSysmeta = acl.map { [(S3ACL.objectSysmeta, $0)] } ?? []
        let marker = try await call.swift("PUT", segments(bucket), "\(key)/\(uploadID)", headers: headers)
        call.env.scope.objectSysmeta = []
        guard marker.status == 201 else { throw S3Error.fromSwift(marker.status, bucket: bucket, key: key) }
        let xml = S3XML.document("InitiateMultipartUploadResult", S3XML.e("Bucket", bucket) + S3XML.e("Key", key) + S3XML.e("UploadId", uploadID))
        var response = S3XML.response(xml, requestID: call.requestID)
        if let algorithm = call.request.header("x-amz-checksum-algorithm") {
            response.headers.add(name: "x-amz-checksum-algorithm", value: algorithm.uppercased())
        }
        return response
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
        _ = try await marker(call, bucket, key, uploadID)
        if call.request.header("x-amz-copy-source") != nil { return try await uploadPartCopy(call, bucket, key, uploadID, n) }
        let upload = try S3Upload(call)
        var headers = upload.framing
        if let md5 = try S3Objects.contentMD5(call.request) { headers.add(name: "ETag", value: Hex.encode(md5)) }
        let body = try await upload.prepared()
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
                out.append(Part(number: n, etag: (item["hash"] as? String) ?? "", size: (item["bytes"] as? NSNumber)?.int64Value ?? 0,
                                lastModified: S3XML.time(fromSwiftListing: (item["last_modified"] as? String) ?? "")))
            }
            if items.count < 10000 { break }
        }
        return out.sorted { $0.number < $1.number }
    }

    /// `GET /bucket/key?uploadId=ID`: ListParts.
    static func listParts(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String) async throws -> HTTPResponse {
        _ = try await marker(call, bucket, key, uploadID)
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
        xml += "<Initiator>\(S3Buckets.owner(call))</Initiator><Owner>\(S3Buckets.owner(call))</Owner><StorageClass>STANDARD</StorageClass>"
        xml += S3XML.e("PartNumberMarker", String(after)) + S3XML.e("NextPartNumberMarker", String(page.last?.number ?? after))
        xml += S3XML.e("MaxParts", String(maxParts)) + S3XML.e("IsTruncated", all.count > page.count ? "true" : "false")
        for p in page {
            xml += "<Part>" + S3XML.e("PartNumber", String(p.number)) + S3XML.e("LastModified", p.lastModified)
                + S3XML.e("ETag", "\"\(p.etag)\"") + S3XML.e("Size", String(p.size)) + "</Part>"
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

    /// `POST /bucket/key?uploadId=ID` with the parts to join: checked (order, ETags, sizes),
    /// then stored as a static large object of those parts; the marker goes last.
    static func complete(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String) async throws -> HTTPResponse {
        let markerAnswer: HTTPResponse
        do {
            markerAnswer = try await marker(call, bucket, key, uploadID)
        } catch let error as S3Error where error.code == "NoSuchUpload" {
            // Completing again (a client retrying a lost answer) answers as the first time did.
            let head = try await call.swift("HEAD", bucket, key)
            guard head.status == 200, head.headers.first(name: "x-object-sysmeta-s3api-upload-id") == uploadID,
                  let etag = head.headers.first(name: "x-object-sysmeta-s3api-etag") else { throw error }
            return completed(call, bucket, key, etag: etag)
        }
        // A checksum header here is the object's composite one (of the parts' checksums), which
        // is not computed: refused rather than checked against the wrong bytes or ignored.
        if let header = call.request.headers.first(where: { $0.name.lowercased().hasPrefix("x-amz-checksum-") && $0.name.lowercased() != "x-amz-checksum-type" }) {
            throw S3Error.notImplemented("\(header.name) on CompleteMultipartUpload (composite checksums)")
        }
        let upload = try S3Upload(call)  // the signed SHA-256 of the part list, checked
        let body = try await upload.body.collect(limit: 4 << 20)
        if let failure = upload.failure { throw failure }
        guard let tree = try? XMLTree.parse(Array(body.readableBytesView)), tree.name == "CompleteMultipartUpload" else { throw S3Error.malformedXML }
        var asked: [(Int, String)] = []
        for part in tree.children where part.name == "Part" {
            guard let text = part.child("PartNumber")?.text, let n = Int(text), let etag = part.child("ETag")?.text else { throw S3Error.malformedXML }
            asked.append((n, etag.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))))
        }
        guard !asked.isEmpty, asked.count <= maxParts else { throw S3Error.malformedXML }
        for (a, b) in zip(asked, asked.dropFirst()) where b.0 <= a.0 {
            throw S3Error("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
        }
        let stored = Dictionary(try await parts(call, bucket, key, uploadID).map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
        var manifest: [[String: Any]] = []
        var md5s: [UInt8] = []
        for (i, (n, etag)) in asked.enumerated() {
            guard let p = stored[n], p.etag == etag else {
                throw S3Error("InvalidPart", "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
                              details: [("UploadId", uploadID), ("PartNumber", String(n)), ("ETag", etag)])
            }
            if i < asked.count - 1, p.size < minPartSize {
                throw S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.",
                              details: [("ProposedSize", String(p.size)), ("MinSizeAllowed", String(minPartSize)), ("PartNumber", String(n)), ("ETag", etag)])
            }
            md5s += Hex.decode(p.etag) ?? []
            manifest.append(["path": "/\(segments(bucket))/\(key)/\(uploadID)/\(n)", "etag": p.etag, "size_bytes": p.size])
        }
        let s3ETag = Digests.md5Hex(md5s) + "-\(asked.count)"
        // The completed object gets the marker's content headers and metadata.
        var headers = HTTPHeaders()
        for (name, value) in markerAnswer.headers {
            let l = name.lowercased()
            if l == "content-type" || l.hasPrefix("x-object-meta-") && l != "x-object-meta-s3api-checksum-algorithm"
                || ["content-encoding", "content-disposition", "content-language", "cache-control", "expires"].contains(l) {
                headers.add(name: name, value: value)
            }
        }
        try await S3Objects.checkWriteConditions(call, bucket, key, headers: &headers, starByServers: false)
        let json = try JSONSerialization.data(withJSONObject: manifest)
        headers.add(name: "Content-Length", value: String(json.count))
        let acl = markerAnswer.headers.first(name: S3ACL.objectSysmeta).map { [(S3ACL.objectSysmeta, $0)] } ?? []
        call.env.scope.objectSysmeta = acl + [("X-Object-Sysmeta-S3api-Etag", s3ETag), ("X-Object-Sysmeta-S3api-Upload-Id", uploadID),
                                        ("X-Object-Sysmeta-Container-Update-Override-Etag", "; s3_etag=\(s3ETag)")]
        let r = try await call.swift("PUT", bucket, key, query: [("multipart-manifest", "put")], headers: headers,
                                     body: RequestBody(bytes: ByteBuffer(bytes: json)))
        call.env.scope.objectSysmeta = []
        guard r.status == 201 else {
            if r.status == 404 { throw S3Error.noSuchBucket(bucket) }
            throw S3Error.fromSwift(r.status, bucket: bucket, key: key)
        }
        _ = try await call.swift("DELETE", segments(bucket), "\(key)/\(uploadID)")
        return completed(call, bucket, key, etag: s3ETag)
    }

    static func completed(_ call: S3Call, _ bucket: String, _ key: String, etag: String) -> HTTPResponse {
        let location = "/" + PercentCoding.encodePath(bucket, keepSlash: false) + "/" + PercentCoding.encodePath(key)
        let xml = S3XML.e("Location", location) + S3XML.e("Bucket", bucket) + S3XML.e("Key", key) + S3XML.e("ETag", "\"\(etag)\"")
        return S3XML.response(S3XML.document("CompleteMultipartUploadResult", xml), requestID: call.requestID)
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
        var uploads: [(key: String, id: String, at: String)] = []
        if r.status == 200 {
            let body = try await S3Call.collect(r)
            let items = body.readableBytes == 0 ? [] : (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] ?? [])
            for item in items {
                guard let name = item["name"] as? String, let slash = name.lastIndex(of: "/") else { continue }
                let last = name[name.index(after: slash)...]
                // Parts end in their number; a marker ends in its upload id.
                if Int(last) != nil { continue }
                uploads.append((String(name[..<slash]), String(last), S3XML.time(fromSwiftListing: (item["last_modified"] as? String) ?? "")))
            }
        }
        let page = Array(uploads.prefix(maxUploads))
        var xml = S3XML.e("Bucket", bucket) + S3XML.e("KeyMarker", q["key-marker"] ?? "") + S3XML.e("UploadIdMarker", "")
        if let last = page.last, uploads.count > page.count {
            xml += S3XML.e("NextKeyMarker", last.key) + S3XML.e("NextUploadIdMarker", last.id)
        }
        xml += S3XML.e("Prefix", prefix) + S3XML.e("MaxUploads", String(maxUploads)) + S3XML.e("IsTruncated", uploads.count > page.count ? "true" : "false")
        for u in page {
            xml += "<Upload>" + S3XML.e("Key", u.key) + S3XML.e("UploadId", u.id) + "<Initiator>\(S3Buckets.owner(call))</Initiator>"
                + "<Owner>\(S3Buckets.owner(call))</Owner><StorageClass>STANDARD</StorageClass>" + S3XML.e("Initiated", u.at) + "</Upload>"
        }
        return S3XML.response(S3XML.document("ListMultipartUploadsResult", xml), requestID: call.requestID)
    }
}
