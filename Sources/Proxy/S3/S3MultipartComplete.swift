import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

extension S3Multipart {
    /// `POST /bucket/key?uploadId=ID` with the parts to join: checked (order, ETags, sizes,
    /// checksums), then stored as a static large object of those parts; the marker goes last.
    static func complete(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String) async throws -> HTTPResponse {
        let markerAnswer: HTTPResponse
        do {
            markerAnswer = try await marker(call, bucket, key, uploadID)
        } catch let error as S3Error where error.code == "NoSuchUpload" {
            // Completing again (a client retrying a lost answer) answers as the first time did.
            let head = try await call.swift("HEAD", bucket, key)
            guard head.status == 200, head.headers.first(name: "x-object-sysmeta-s3api-upload-id") == uploadID,
                  let etag = head.headers.first(name: "x-object-sysmeta-s3api-etag") else { throw error }
            return completed(call, bucket, key, etag: etag, checksum: S3MultipartChecksum(stored: head.headers),
                             value: head.headers.first(name: S3BodyCheck.sysmeta).flatMap(S3MultipartChecksum.split)?.value)
        }
        let checksum = S3MultipartChecksum(stored: markerAnswer.headers)
        let claimed = try claimedChecksum(call.request, upload: checksum)
        // The part list's signed SHA-256 is checked; an x-amz-checksum-* here is the object's.
        let upload = try S3Upload(call, checksumHeadersDescribeBody: false)
        let body = try await upload.body.collect(limit: 4 << 20)
        if let failure = upload.failure { throw failure }
        guard let tree = try? XMLTree.parse(Array(body.readableBytesView)), tree.name == "CompleteMultipartUpload" else { throw S3Error.malformedXML }
        var asked: [(number: Int, etag: String, checksum: String?)] = []
        for part in tree.children where part.name == "Part" {
            guard let text = part.child("PartNumber")?.text, let n = Int(text), let etag = part.child("ETag")?.text else { throw S3Error.malformedXML }
            asked.append((n, etag.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")), checksum.flatMap { part.child($0.element)?.text }))
        }
        guard !asked.isEmpty, asked.count <= maxParts else { throw S3Error.malformedXML }
        for (a, b) in zip(asked, asked.dropFirst()) where b.number <= a.number {
            throw S3Error("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
        }
        let stored = Dictionary(try await parts(call, bucket, key, uploadID).map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
        var manifest: [[String: Any]] = []
        var md5s: [UInt8] = []
        var checksums: [(value: String, size: Int64)] = []
        for (i, (n, etag, listed)) in asked.enumerated() {
            guard let p = stored[n], p.etag == etag else { throw invalidPart(uploadID, n, etag) }
            if i < asked.count - 1, p.size < minPartSize {
                throw S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.",
                              details: [("ProposedSize", String(p.size)), ("MinSizeAllowed", String(minPartSize)), ("PartNumber", String(n)), ("ETag", etag)])
            }
            if let checksum {
                let value = try await partChecksum(call, bucket, key, uploadID, p, checksum.algorithm)
                // A part's checksum in the list must be the part's.
                if let listed, listed != value { throw invalidPart(uploadID, n, etag) }
                checksums.append((value, p.size))
            }
            md5s += Hex.decode(p.etag) ?? []
            manifest.append(["path": "/\(segments(bucket))/\(key)/\(uploadID)/\(n)", "etag": p.etag, "size_bytes": p.size])
        }
        let s3ETag = Digests.md5Hex(md5s) + "-\(asked.count)"
        var checksumSysmeta: [(String, String)] = []
        var value: String?
        if let checksum {
            guard let combined = checksum.combine(checksums) else { throw S3Error("InternalError", "The parts' checksums could not be combined.", status: 500) }
            if let claimed, claimed != combined {
                throw S3Error("BadDigest", "The \(checksum.algorithm.lowercased()) you specified did not match the calculated checksum.")
            }
            value = combined
            checksumSysmeta = checksum.sysmeta + [(S3BodyCheck.sysmeta, "\(checksum.algorithm):\(combined)")]
        }
        // The completed object gets the marker's content headers and metadata.
        var headers = HTTPHeaders()
        for (name, value) in markerAnswer.headers {
            let l = name.lowercased()
            if l == "content-type" || l.hasPrefix("x-object-meta-") && l != S3MultipartChecksum.legacyAlgorithmMeta.lowercased()
                || ["content-encoding", "content-disposition", "content-language", "cache-control", "expires"].contains(l) {
                headers.add(name: name, value: value)
            }
        }
        try await S3Objects.checkWriteConditions(call, bucket, key, headers: &headers, starByServers: false)
        let json = try JSONSerialization.data(withJSONObject: manifest)
        headers.add(name: "Content-Length", value: String(json.count))
        let acl = markerAnswer.headers.first(name: S3ACL.objectSysmeta).map { [(S3ACL.objectSysmeta, $0)] } ?? []
        call.env.scope.objectSysmeta = acl + checksumSysmeta + [("X-Object-Sysmeta-S3api-Etag", s3ETag), ("X-Object-Sysmeta-S3api-Upload-Id", uploadID),
                                                               ("X-Object-Sysmeta-Container-Update-Override-Etag", "; s3_etag=\(s3ETag)")]
        let r = try await call.swift("PUT", bucket, key, query: [("multipart-manifest", "put")], headers: headers,
                                     body: RequestBody(bytes: ByteBuffer(bytes: json)))
        call.env.scope.objectSysmeta = []
        guard r.status == 201 else {
            if r.status == 404 { throw S3Error.noSuchBucket(bucket) }
            throw S3Error.fromSwift(r.status, bucket: bucket, key: key)
        }
        _ = try await call.swift("DELETE", segments(bucket), "\(key)/\(uploadID)")
        return completed(call, bucket, key, etag: s3ETag, checksum: checksum, value: value)
    }

    static func completed(_ call: S3Call, _ bucket: String, _ key: String, etag: String, checksum: S3MultipartChecksum?, value: String?) -> HTTPResponse {
        let location = "/" + PercentCoding.encodePath(bucket, keepSlash: false) + "/" + PercentCoding.encodePath(key)
        var xml = S3XML.e("Location", location) + S3XML.e("Bucket", bucket) + S3XML.e("Key", key) + S3XML.e("ETag", "\"\(etag)\"")
        if let checksum, let value { xml += S3XML.e(checksum.element, value) + S3XML.e("ChecksumType", checksum.type) }
        return S3XML.response(S3XML.document("CompleteMultipartUploadResult", xml), requestID: call.requestID)
    }

    static func invalidPart(_ uploadID: String, _ n: Int, _ etag: String) -> S3Error {
        S3Error("InvalidPart", "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
                details: [("UploadId", uploadID), ("PartNumber", String(n)), ("ETag", etag)])
    }

    /// The object's checksum CompleteMultipartUpload's headers claim (`x-amz-checksum-<alg>`,
    /// `x-amz-checksum-type`): of the upload's algorithm and type, or refused.
    static func claimedChecksum(_ request: HTTPRequest, upload: S3MultipartChecksum?) throws(S3Error) -> String? {
        if let type = request.header("x-amz-checksum-type"), type.uppercased() != (upload?.type ?? "") {
            throw S3Error("InvalidRequest", "The upload was created using the \(upload?.type ?? "no") checksum type. The complete request must use the same checksum type.")
        }
        for algorithm in S3BodyCheck.algorithms {
            guard let value = request.header("x-amz-checksum-" + algorithm.lowercased()) else { continue }
            guard let upload else {
                throw S3Error("InvalidRequest", "The upload was created without a checksum algorithm; x-amz-checksum-\(algorithm.lowercased()) cannot be checked.")
            }
            guard upload.algorithm == algorithm else {
                throw S3Error("InvalidRequest", "Checksum Type mismatch occurred, expected checksum Type: \(upload.algorithm.lowercased()), actual checksum Type: \(algorithm.lowercased())")
            }
            return value
        }
        return nil
    }

    /// A part's checksum of `algorithm`: the one it was stored with, else (a part copied by
    /// UploadPartCopy) computed from its bytes.
    static func partChecksum(_ call: S3Call, _ bucket: String, _ key: String, _ uploadID: String, _ part: Part, _ algorithm: String) async throws -> String {
        if let stored = part.checksum.flatMap(S3MultipartChecksum.split), stored.algorithm == algorithm { return stored.value }
        let r = try await call.swift("GET", segments(bucket), "\(key)/\(uploadID)/\(part.number)")
        guard r.status == 200 else { throw invalidPart(uploadID, part.number, part.etag) }
        guard let running = S3RunningChecksum(algorithm) else { throw invalidPart(uploadID, part.number, part.etag) }
        switch r.body {
        case .empty: break
        case .bytes(let b): b.withUnsafeReadableBytes { running.update($0) }
        case .stream(let produce): try await produce(BodyWriter { chunk in chunk.withUnsafeReadableBytes { running.update($0) } })
        }
        return running.base64()
    }

    /// The checksum a stored part (or segment) keeps, `ALG:value`, by its path
    /// (`/<container>/<object>`); nil without one.
    static func storedChecksum(_ call: S3Call, path: String) async throws -> String? {
        let trimmed = path.drop { $0 == "/" }
        guard let slash = trimmed.firstIndex(of: "/") else { return nil }
        let r = try await call.swift("HEAD", String(trimmed[..<slash]), String(trimmed[trimmed.index(after: slash)...]))
        return r.status == 200 ? r.headers.first(name: S3BodyCheck.sysmeta) : nil
    }

    /// `<ChecksumSHA256>…</ChecksumSHA256>` of a stored `ALG:value`, or nothing.
    static func checksumElement(_ stored: String?) -> String {
        guard let (algorithm, value) = stored.flatMap(S3MultipartChecksum.split) else { return "" }
        return S3XML.e("Checksum" + algorithm, value)
    }
}
