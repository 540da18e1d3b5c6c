import Foundation
import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation: buckets are the
/// containers of the signer's account.
enum S3Buckets {
    /// The owner every listing names: the account, stable for as long as it exists.
    static func owner(_ call: S3Call) -> String {
        S3XML.e("ID", call.account) + S3XML.e("DisplayName", call.account)
    }

    static func list(_ call: S3Call) async throws -> HTTPResponse {
        var buckets = ""
        var marker = ""
        // Every container, a page at a time (S3's ListBuckets is not paginated for most clients).
        while true {
            let r = try await call.swift("GET", query: [("format", "json"), ("marker", marker), ("limit", "10000")])
            guard r.status == 200 || r.status == 204 else { throw S3Error.fromSwift(r.status, bucket: nil, key: nil) }
            let body = try await S3Call.collect(r)
            let page = body.readableBytes == 0 ? [] : try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] ?? []
            for c in page {
                guard let name = c["name"] as? String else { continue }
                marker = name
                // Multipart uploads' parts, not a bucket (as Swift's s3api).
                if name.hasSuffix("+segments") { continue }
                let created = (c["last_modified"] as? String).map(S3XML.time(fromSwiftListing:)) ?? S3XML.iso8601(0)
                buckets += "<Bucket>" + S3XML.e("Name", name) + S3XML.e("CreationDate", created) + "</Bucket>"
            }
            if page.count < 10000 { break }
        }
        let xml = S3XML.document("ListAllMyBucketsResult", "<Owner>\(owner(call))</Owner><Buckets>\(buckets)</Buckets>")
        return S3XML.response(xml, requestID: call.requestID)
    }

    static func create(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        guard S3Target.isValidBucketName(bucket) else {
            throw S3Error("InvalidBucketName", "The specified bucket is not valid.", details: [("BucketName", bucket)])
        }
        if let acl = call.request.header("x-amz-acl"), acl != "private" { throw S3Error.notImplemented("x-amz-acl: \(acl)") }
        // A LocationConstraint body, if any, names a region: it must be ours (or empty).
        let body = try await call.request.body.collect(limit: 64 << 10)
        if body.readableBytes > 0 {
            let text = String(buffer: body)
            guard let tree = try? XMLTree.parse(Array(text.utf8)), tree.name == "CreateBucketConfiguration" else { throw S3Error.malformedXML }
            if let constraint = tree.child("LocationConstraint")?.text, !constraint.isEmpty, constraint != call.settings.location {
                throw S3Error("InvalidLocationConstraint", "The specified location-constraint is not valid.",
                              details: [("LocationConstraint", constraint)])
            }
        }
        let head = try await call.swift("HEAD", bucket)
        if head.status == 204 || head.status == 200 {
            throw S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.",
                          status: 409, details: [("BucketName", bucket)])
        }
        let r = try await call.swift("PUT", bucket)
        guard r.status == 201 || r.status == 202 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: nil) }
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: "/" + bucket)
        return call.s3Response(200, headers: headers)
    }

    static func head(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        let r = try await call.swift("HEAD", bucket)
        guard r.status == 204 || r.status == 200 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: nil) }
        var headers = HTTPHeaders()
        headers.add(name: "x-amz-bucket-region", value: call.settings.location)
        return call.s3Response(200, headers: headers)
    }

    static func delete(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        let r = try await call.swift("DELETE", bucket)
        guard r.status == 204 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: nil) }
        // Its multipart container goes too when nothing is left in it.
        _ = try await call.swift("DELETE", S3Multipart.segments(bucket))
        return call.s3Response(204)
    }

    static func location(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        let r = try await call.swift("HEAD", bucket)
        guard r.status == 204 || r.status == 200 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: nil) }
        // us-east-1 answers an empty constraint, as AWS does.
        let region = call.settings.location == "us-east-1" ? "" : XMLText.escape(call.settings.location)
        return S3XML.response(S3XML.document("LocationConstraint", region), requestID: call.requestID)
    }
}
