import Foundation
import HTTPServerKit
import NimbusCore

/// ListObjects (v1), ListObjectsV2 and ListObjectVersions (on buckets without versioning, every
/// object one `null` version): a page of the container's Swift listing, in S3's shape.
enum S3ListObjects {
    struct Entry {
        let key: String
        let etag: String
        let size: Int64
        let lastModified: String
    }

    static func list(_ call: S3Call, _ bucket: String, versions: Bool) async throws -> HTTPResponse {
        let q = call.target.query
        let v2 = !versions && q["list-type"] == "2"
        if let type = q["list-type"], type != "2" { throw S3Error.invalidArgument("Invalid List Type specified", name: "list-type", value: type) }
        let maxKeys = try Self.maxKeys(q["max-keys"], limit: call.settings.maxBucketListing)
        let prefix = q["prefix"] ?? "", delimiter = q["delimiter"] ?? ""
        let urlEncoded: Bool
        switch q["encoding-type"] {
        case nil: urlEncoded = false
        case "url": urlEncoded = true
        case let other?: throw S3Error.invalidArgument("Invalid Encoding Method specified in Request", name: "encoding-type", value: other)
        }
        var marker: String
        if v2 {
            if let token = q["continuation-token"] {
                guard let data = Data(base64Encoded: token), let decoded = String(data: data, encoding: .utf8) else {
                    throw S3Error.invalidArgument("The continuation token provided is incorrect", name: "continuation-token", value: token)
                }
                marker = decoded
            } else {
                marker = q["start-after"] ?? ""
            }
        } else {
            marker = (versions ? q["key-marker"] : q["marker"]) ?? ""
        }

        // One more than asked for says whether the listing is truncated.
        var entries: [Entry] = [], prefixes: [String] = []
        var truncated = false
        if maxKeys > 0 {
            var query = [("format", "json"), ("limit", String(maxKeys + 1)), ("marker", marker)]
            if !prefix.isEmpty { query.append(("prefix", prefix)) }
            if !delimiter.isEmpty { query.append(("delimiter", delimiter)) }
            let r = try await call.swift("GET", bucket, query: query)
            guard r.status == 200 || r.status == 204 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: nil) }
            let body = try await S3Call.collect(r)
            let items = body.readableBytes == 0 ? [] : (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] ?? [])
            for (i, item) in items.enumerated() {
                if i == maxKeys {
                    truncated = true
                    break
                }
                if let sub = item["subdir"] as? String {
                    prefixes.append(sub)
                } else if let name = item["name"] as? String {
                    let hash = (item["hash"] as? String) ?? ""
                    // `etag; s3_etag=…`: a completed multipart upload lists S3's ETag.
                    let (bare, params) = ContentTypeParams.headerParams(hash)
                    let etag = params.first { $0.0 == "s3_etag" }?.1 ?? bare
                    entries.append(Entry(key: name, etag: "\"" + etag + "\"",
                                         size: (item["bytes"] as? NSNumber)?.int64Value ?? 0,
                                         lastModified: S3XML.time(fromSwiftListing: (item["last_modified"] as? String) ?? "")))
                }
            }
        } else {
            let r = try await call.swift("HEAD", bucket)
            guard r.status == 204 || r.status == 200 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: nil) }
        }
        let last = [entries.last?.key, prefixes.last].compactMap { $0 }.max()

        func enc(_ s: String) -> String { urlEncoded ? PercentCoding.encodePath(s) : s }
        let owner = "<Owner>\(S3Buckets.owner(call))</Owner>"
        // ListObjects (v1) gives its Prefix as asked, even with encoding-type=url (what AWS does
        // and botocore expects: it decodes v2's and ListObjectVersions' Prefix only).
        var xml = S3XML.e("Name", bucket) + S3XML.e("Prefix", v2 || versions ? enc(prefix) : prefix)
        if versions {
            xml += S3XML.e("KeyMarker", enc(marker)) + S3XML.e("VersionIdMarker", "")
        } else if v2 {
            if let token = q["continuation-token"] { xml += S3XML.e("ContinuationToken", token) }
            if let after = q["start-after"] { xml += S3XML.e("StartAfter", enc(after)) }
            xml += S3XML.e("KeyCount", String(entries.count + prefixes.count))
        } else {
            xml += S3XML.e("Marker", enc(marker))
        }
        xml += S3XML.e("MaxKeys", String(maxKeys))
        if !delimiter.isEmpty { xml += S3XML.e("Delimiter", enc(delimiter)) }
        if urlEncoded { xml += S3XML.e("EncodingType", "url") }
        xml += S3XML.e("IsTruncated", truncated ? "true" : "false")
        if truncated, let last {
            if versions {
                xml += S3XML.e("NextKeyMarker", enc(last)) + S3XML.e("NextVersionIdMarker", "null")
            } else if v2 {
                xml += S3XML.e("NextContinuationToken", Data(last.utf8).base64EncodedString())
            } else if !delimiter.isEmpty {
                xml += S3XML.e("NextMarker", enc(last))
            }
        }
        let withOwner = versions || !v2 || q["fetch-owner"] == "true"
        for e in entries {
            let common = S3XML.e("Key", enc(e.key)) + (versions ? S3XML.e("VersionId", "null") + S3XML.e("IsLatest", "true") : "")
                + S3XML.e("LastModified", e.lastModified) + S3XML.e("ETag", e.etag) + S3XML.e("Size", String(e.size))
            xml += versions ? "<Version>\(common)\(owner)<StorageClass>STANDARD</StorageClass></Version>"
                            : "<Contents>\(common)<StorageClass>STANDARD</StorageClass>\(withOwner ? owner : "")</Contents>"
        }
        for p in prefixes { xml += "<CommonPrefixes>" + S3XML.e("Prefix", enc(p)) + "</CommonPrefixes>" }
        let root = versions ? "ListVersionsResult" : "ListBucketResult"
        return S3XML.response(S3XML.document(root, xml), requestID: call.requestID)
    }

    /// `max-keys`: digits only, at most the configured listing limit (larger asks get the limit,
    /// as S3 caps at 1000).
    static func maxKeys(_ text: String?, limit: Int) throws(S3Error) -> Int {
        guard let text else { return limit }
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw S3Error.invalidArgument("Provided max-keys not an integer or within integer range", name: "max-keys", value: text)
        }
        guard let n = Int(text) else { return limit }
        return min(n, limit)
    }
}
