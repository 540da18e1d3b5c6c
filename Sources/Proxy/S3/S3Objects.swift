import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// PutObject, GetObject, HeadObject, DeleteObject and CopyObject, as Swift object requests:
/// S3 metadata ↔ `X-Object-Meta-*`, the `Content-*`, `Cache-Control` and `Expires` headers kept,
/// `Content-MD5` checked by the object servers (as Swift's `ETag`).
enum S3Objects {
    /// Headers an S3 PUT carries over to Swift as they are.
    static let keptOnPut: Set<String> = ["content-type", "content-encoding", "content-disposition", "content-language", "cache-control",
                                         "expires", "content-length", "transfer-encoding"]

    /// Headers a Swift answer passes on to S3 clients as they are.
    static let keptOnGet: Set<String> = ["content-type", "content-length", "content-range", "content-encoding", "content-disposition",
                                         "content-language", "cache-control", "expires", "etag", "last-modified", "accept-ranges"]

    /// The request's `Content-MD5`, decoded (nil when absent); `InvalidDigest` when it is not 16 bytes of base64.
    static func contentMD5(_ request: HTTPRequest) throws(S3Error) -> [UInt8]? {
        guard let md5 = request.header("content-md5") else { return nil }
        guard let bytes = Data(base64Encoded: md5), bytes.count == 16 else {
            throw S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.", details: [("Content-MD5", md5)])
        }
        return Array(bytes)
    }

    /// The user metadata and content headers of an S3 request, as Swift headers.
    static func swiftHeaders(_ request: HTTPRequest) throws(S3Error) -> HTTPHeaders {
        var h = HTTPHeaders()
        for (name, value) in request.headers {
            let l = name.lowercased()
            if l == "content-encoding" {
                // aws-chunked is how the body came, not what it is.
                let kept = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0.lowercased() != "aws-chunked" }
                if kept.count == value.split(separator: ",").count {
                    h.add(name: name, value: value)
                } else if !kept.isEmpty {
                    h.add(name: name, value: kept.joined(separator: ", "))
                }
            } else if keptOnPut.contains(l) {
                h.add(name: name, value: value)
            } else if l.hasPrefix("x-amz-meta-") {
                h.add(name: "X-Object-Meta-" + name.dropFirst("x-amz-meta-".count), value: value)
            }
        }
        if let md5 = try contentMD5(request) { h.replaceOrAdd(name: "ETag", value: Hex.encode(md5)) }
        if let storage = request.header("x-amz-storage-class"), storage != "STANDARD" {
            throw S3Error("InvalidStorageClass", "The storage class you specified is not valid.", details: [("StorageClassRequested", storage)])
        }
        return h
    }

    static func put(_ call: S3Call, _ bucket: String, _ key: String) async throws -> HTTPResponse {
        let acl = try S3ACLRequests.forNewObject(call)
        var headers = try swiftHeaders(call.request)
        try await checkWriteConditions(call, bucket, key, headers: &headers)
        let upload = try S3Upload(call)
        for name in ["content-length", "transfer-encoding"] { headers.remove(name: name) }
        headers.add(contentsOf: upload.framing)
        let body = try await upload.prepared()
        upload.stage(on: call.env.scope, with: acl.map { [(S3ACL.objectSysmeta, $0.stored)] } ?? [])
        let r = try await call.swift("PUT", bucket, key, headers: headers, body: body)
        if let failure = upload.failure { throw failure }
        guard r.status == 201 else { throw try await refusal(call, r.status, bucket, key) }
        return call.s3Response(200, headers: upload.responseHeaders(etag: r.headers.first(name: "etag")))
    }

    static func get(_ call: S3Call, _ bucket: String, _ key: String) async throws -> HTTPResponse {
        var headers = HTTPHeaders()
        for name in ["range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] {
            if let v = call.request.header(name) { headers.add(name: name, value: v) }
        }
        var partsCount: Int?
        let wantsChecksum = call.request.header("x-amz-checksum-mode")?.uppercased() == "ENABLED"
        // A part read of a completed multipart upload answers with the part's checksum.
        var partChecksum: String??
        if let text = call.target.query["partNumber"] {
            let part = try S3Multipart.partNumber(text)
            guard call.request.header("range") == nil else {
                throw S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
            }
            let found = try await S3PartRange.find(call, bucket, key, part: part)
            if let range = found.range {
                headers.replaceOrAdd(name: "Range", value: range)
                partsCount = found.count
            }
            if wantsChecksum, let part = found.part { partChecksum = .some(try await S3Multipart.storedChecksum(call, path: part.path)) }
        }
        // Conditions compare with S3's ETag where a completed multipart upload keeps it.
        headers.add(name: "X-Backend-Etag-Is-At", value: "X-Object-Sysmeta-S3api-Etag")
        let r = try await call.swift(call.method, bucket, key, headers: headers)
        guard (200..<300).contains(r.status) || r.status == 304 else { throw try await refusal(call, r.status, bucket, key) }
        // Read as the owner for someone an ACL allowed: the object answered must still allow it
        // (it may have been replaced since the ACL was looked at).
        guard S3Access.stillAllowed(call, r.headers) else { throw S3Error.accessDenied }
        var out = HTTPHeaders()
        for (name, value) in r.headers {
            let l = name.lowercased()
            if l == "etag" {
                // A completed multipart upload shows S3's ETag, not the large object's.
                out.add(name: "ETag", value: quoted(r.headers.first(name: "x-object-sysmeta-s3api-etag") ?? value))
            } else if keptOnGet.contains(l) {
                out.add(name: name, value: value)
            } else if l.hasPrefix("x-object-meta-") {
                // S3 names user metadata in lower case; Swift stores the names title-cased.
                out.add(name: "x-amz-meta-" + name.dropFirst("x-object-meta-".count).lowercased(), value: value)
            }
        }
        if let partsCount { out.add(name: "x-amz-mp-parts-count", value: String(partsCount)) }
        // The whole object's checksum, so not for a range (as S3: a client would check the part
        // against it); a part's own for a part.
        if wantsChecksum, let stored = partChecksum ?? (r.status == 200 ? r.headers.first(name: S3BodyCheck.sysmeta) : nil),
           let (algorithm, value) = S3MultipartChecksum.split(stored) {
            out.add(name: "x-amz-checksum-" + algorithm.lowercased(), value: value)
            out.add(name: "x-amz-checksum-type", value: r.headers.first(name: S3MultipartChecksum.typeSysmeta) ?? "FULL_OBJECT")
        }
        // Signed requests may override what the answer says of the content (response-*).
        for (query, header) in [("response-content-type", "Content-Type"), ("response-content-language", "Content-Language"),
                                ("response-expires", "Expires"), ("response-cache-control", "Cache-Control"),
                                ("response-content-disposition", "Content-Disposition"), ("response-content-encoding", "Content-Encoding")] {
            if let v = call.target.query[query] {
                guard !v.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                    throw S3Error.invalidArgument("A response override holds a line break.", name: query, value: v)
                }
                out.replaceOrAdd(name: header, value: v)
            }
        }
        return call.s3Response(r.status, headers: out, body: call.method == "HEAD" ? .empty : r.body)
    }

    /// Deletes an object; a completed multipart upload with its parts.
    static func remove(_ call: S3Call, _ bucket: String, _ key: String) async throws -> Int {
        let head = try await call.swift("HEAD", bucket, key, query: [("multipart-manifest", "get")])
        // Only a completed multipart upload's parts (in `<bucket>+segments`) go with it; a
        // Swift-made large object's segments may live anywhere in the account, and a request
        // made as the owner for someone else must not reach them.
        let isLarge = head.headers.first(name: "x-static-large-object")?.lowercased() == "true"
            && (head.headers.first(name: "x-object-sysmeta-s3api-etag") != nil || call.actingAs == nil)
        let r = try await call.swift("DELETE", bucket, key, query: isLarge ? [("multipart-manifest", "delete")] : [])
        guard isLarge, r.status == 200 else { return r.status }
        // slo deletes as it writes its report (as Swift's bulk delete does): read it to the end,
        // then its "Response Status:" line is the outcome.
        let report = String(buffer: try await S3Call.collect(r, limit: 1 << 20))
        let line = report.split(separator: "\n").first { $0.hasPrefix("Response Status:") }
        return line.flatMap { Int($0.dropFirst("Response Status:".count).trimmingCharacters(in: .whitespaces).prefix(3)) } ?? 500
    }

    static func delete(_ call: S3Call, _ bucket: String, _ key: String) async throws -> HTTPResponse {
        let status = try await remove(call, bucket, key)
        switch status {
        case 204, 200: return call.s3Response(204)
        // A missing key is no error in S3; a missing bucket is.
        case 404:
            let head = try await call.swift("HEAD", bucket)
            guard head.status == 204 || head.status == 200 else { throw S3Error.noSuchBucket(bucket) }
            return call.s3Response(204)
        default: throw S3Error.fromSwift(status, bucket: bucket, key: key)
        }
    }

    /// CopyObject: `x-amz-copy-source: /bucket/key` (or `bucket/key`), metadata copied or
    /// replaced (`x-amz-metadata-directive`), the `x-amz-copy-source-if-*` conditions.
    static func copy(_ call: S3Call, _ bucket: String, _ key: String) async throws -> HTTPResponse {
        let source = try await copySource(call)
        let (fromBucket, fromKey) = (source.bucket, source.key)
        let directive = call.request.header("x-amz-metadata-directive") ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else {
            throw S3Error.invalidArgument("Unknown metadata directive.", name: "x-amz-metadata-directive", value: directive)
        }
        if fromBucket == bucket, fromKey == key, directive == "COPY" {
            throw S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
        }
        var headers = directive == "REPLACE" ? try swiftHeaders(call.request) : HTTPHeaders()
        headers.remove(name: "content-length")
        headers.remove(name: "etag")
        headers.add(contentsOf: source.swiftHeaders(for: call))
        if directive == "REPLACE" { headers.add(name: "X-Fresh-Metadata", value: "true") }
        try await checkCopySourceConditions(call, source)
        // A copy's ACL is the request's (private by default), not the source's.
        call.env.scope.objectSysmeta = [(S3ACL.objectSysmeta, (try S3ACLRequests.forNewObject(call) ?? .private(call.account)).stored)]
        call.env.scope.copySourcePin = source.pin
        defer {
            call.env.scope.objectSysmeta = []
            call.env.scope.copySourcePin = []
        }
        let r = try await call.swift("PUT", bucket, key, headers: headers)
        guard r.status == 201 else {
            if r.status == 404 {
                // Which one is missing: the destination bucket, or the source.
                let head = try await call.swift("HEAD", bucket)
                if head.status == 404 { throw S3Error.noSuchBucket(bucket) }
                throw S3Error.noSuchKey(fromKey)
            }
            throw S3Error.fromSwift(r.status == 304 ? 412 : r.status, bucket: bucket, key: key)
        }
        let etag = quoted(r.headers.first(name: "etag") ?? "")
        let modified = r.headers.first(name: "last-modified").flatMap(S3XML.time(fromHTTPDate:)) ?? S3XML.iso8601(Date().timeIntervalSince1970)
        let xml = S3XML.document("CopyObjectResult", S3XML.e("LastModified", modified) + S3XML.e("ETag", etag))
        return S3XML.response(xml, requestID: call.requestID)
    }

    /// Conditional writes (`If-Match`, `If-None-Match` on PutObject and CompleteMultipartUpload):
    /// `If-None-Match: *` goes to the object servers, which refuse atomically; an ETag is
    /// compared with the current object first (`PreconditionFailed`; `NoSuchKey` for If-Match
    /// of a missing object, as S3).
    /// - Parameter starByServers: false where the write is no plain object PUT (a large
    ///   object's manifest): `If-None-Match: *` is then checked here too.
    static func checkWriteConditions(_ call: S3Call, _ bucket: String, _ key: String, headers: inout HTTPHeaders,
                                     starByServers: Bool = true) async throws {
        let ifMatch = call.request.header("if-match")
        let ifNoneMatch = call.request.header("if-none-match")
        if ifNoneMatch == "*", starByServers { headers.replaceOrAdd(name: "If-None-Match", value: "*") }
        guard ifMatch != nil || (ifNoneMatch != nil && (ifNoneMatch != "*" || !starByServers)) else { return }
        let head = try await call.swift("HEAD", bucket, key)
        guard head.status == 200 || head.status == 404 else { throw try await refusal(call, head.status, bucket, key) }
        let current = head.status == 200 ? (head.headers.first(name: "x-object-sysmeta-s3api-etag") ?? head.headers.first(name: "etag") ?? "") : nil
        func matches(_ list: String) -> Bool {
            guard let current else { return false }
            return list.split(separator: ",").contains { tag in
                let t = tag.trimmingCharacters(in: .whitespaces)
                return t == "*" || t.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) == current.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        if let ifMatch {
            guard current != nil else { throw S3Error.noSuchKey(key) }
            guard matches(ifMatch) else { throw S3Error.fromSwift(412, bucket: bucket, key: key) }
        }
        if let ifNoneMatch, ifNoneMatch != "*" || !starByServers, matches(ifNoneMatch) { throw S3Error.fromSwift(412, bucket: bucket, key: key) }
    }

    /// What `x-amz-copy-source` names (`/bucket/key` or `bucket/key`, percent-encoded,
    /// `?versionId=null` allowed), and the account its bucket is in: the registered owner's
    /// unless the signer has a container of that name. Another account's source is read with the
    /// signer's own rights (Swift's container ACLs), never the owner's.
    static func copySource(_ call: S3Call) async throws -> S3CopySource {
        guard let source = call.request.header("x-amz-copy-source") else { throw S3Error.malformedXML }
        var text = NameBytes.hasPrefix(source, "/") ? NameBytes.dropPrefix(source, bytes: 1) : source
        if let q = text.range(of: "?versionId=") {
            let version = text[q.upperBound...]
            guard version == "null" else { throw S3Error.notImplemented("copying a version other than null") }
            text = String(text[..<q.lowerBound])
        }
        let decoded: String
        do { decoded = try PercentCoding.decodeUTF8(text) } catch { throw S3Error("InvalidArgument", "Invalid copy source encoding.") }
        let parts = NameBytes.split(decoded, maxSplits: 1).filter { !$0.isEmpty }
        guard parts.count == 2, !parts[1].isEmpty else {
            throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey", name: "x-amz-copy-source", value: source)
        }
        let bucket = String(parts[0])
        var account = call.identity?.storageAccount ?? call.account
        if let owner = try await S3BucketRegistry(call: call).owner(of: bucket), owner != account,
           !(200..<300).contains(try await call.swift("HEAD", bucket, account: account).status) {
            account = owner
        }
        var found = S3CopySource(bucket: bucket, key: String(parts[1]), account: account)
        if call.actingAs != nil {
            // A copy an ACL allowed into someone else's bucket: the source must be in that
            // account (requests are made as its owner) and grant the requester READ.
            guard found.account == call.account else { throw S3Error.accessDenied }
            let head = try await call.swift("HEAD", found.bucket, found.key)
            guard (200..<300).contains(head.status) else { throw try await refusal(call, head.status, found.bucket, found.key) }
            guard S3Access.stillAllowed(call, head.headers) else { throw S3Error.accessDenied }
            // The copy must read the version checked here, not one put in its place since.
            found.pin = [("X-Timestamp", head.headers.first(name: "x-timestamp")),
                         (S3ACL.objectSysmeta, head.headers.first(name: S3ACL.objectSysmeta))]
        }
        return found
    }

    /// The copy conditions (`x-amz-copy-source-if-*`) are the source's: checked with a HEAD of
    /// it first, as s3api does (`PreconditionFailed` when one fails).
    static func checkCopySourceConditions(_ call: S3Call, _ source: S3CopySource) async throws {
        let (fromBucket, fromKey) = (source.bucket, source.key)
        var conditions = HTTPHeaders()
        for (s3, swift) in [("x-amz-copy-source-if-match", "If-Match"), ("x-amz-copy-source-if-none-match", "If-None-Match"),
                            ("x-amz-copy-source-if-modified-since", "If-Modified-Since"),
                            ("x-amz-copy-source-if-unmodified-since", "If-Unmodified-Since")] {
            if let v = call.request.header(s3) { conditions.add(name: swift, value: v) }
        }
        guard !conditions.isEmpty else { return }
        conditions.add(name: "X-Backend-Etag-Is-At", value: "X-Object-Sysmeta-S3api-Etag")
        let head = try await call.swift("HEAD", fromBucket, fromKey, headers: conditions, account: source.account)
        if head.status == 304 || head.status == 412 { throw S3Error.fromSwift(412, bucket: fromBucket, key: fromKey) }
        guard (200..<300).contains(head.status) else { throw try await refusal(call, head.status, fromBucket, fromKey) }
    }

    /// A refused object request: a missing object or a missing bucket, told apart as S3 does.
    static func refusal(_ call: S3Call, _ status: Int, _ bucket: String, _ key: String) async throws -> S3Error {
        guard status == 404 else { return S3Error.fromSwift(status, bucket: bucket, key: key) }
        let head = try await call.swift("HEAD", bucket)
        return head.status == 404 ? S3Error.noSuchBucket(bucket) : S3Error.noSuchKey(key)
    }

    static func quoted(_ etag: String) -> String { etag.hasPrefix("\"") ? etag : "\"\(etag)\"" }
}

/// A copy's source: bucket, key and the account the bucket is in.
struct S3CopySource {
    let bucket: String
    let key: String
    let account: String
    /// What the copy must find on the source (see `RequestScope.copySourcePin`).
    var pin: [(String, String?)] = []

    /// `X-Copy-From` (and `X-Copy-From-Account` when the source is in another account than `call`'s bucket).
    func swiftHeaders(for call: S3Call) -> HTTPHeaders {
        var h = HTTPHeaders()
        h.add(name: "X-Copy-From", value: "/" + PercentCoding.encodePath(bucket, keepSlash: false) + "/" + PercentCoding.encodePath(key))
        if account != call.account { h.add(name: "X-Copy-From-Account", value: PercentCoding.encodePath(account, keepSlash: false)) }
        return h
    }
}
