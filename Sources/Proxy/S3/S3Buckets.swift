import Foundation
import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation: buckets are the
/// containers of the signer's account.
enum S3Buckets {
    /// The owner every listing names: the account, stable for as long as it exists.
    static func owner(_ call: S3Call) -> String { owner(call.account) }

    /// `<ID>…</ID><DisplayName>…</DisplayName>` of an account (S3 owner ids are accounts).
    static func owner(_ id: String) -> String { S3XML.e("ID", id) + S3XML.e("DisplayName", id) }

    /// ListBuckets: every bucket, or with `max-buckets` a page of them (`continuation-token`
    /// is the last name of the page before, base64; `prefix` narrows them).
    static func list(_ call: S3Call) async throws -> HTTPResponse {
        let q = call.target.query
        var limit = Int.max
        if let text = q["max-buckets"] {
            guard let n = Int(text), (1...10_000).contains(n) else {
                throw S3Error.invalidArgument("Argument max-buckets must be an integer between 1 and 10000", name: "max-buckets", value: text)
            }
            limit = n
        }
        var marker = ""
        if let token = q["continuation-token"] {
            guard let data = Data(base64Encoded: token), let decoded = String(data: data, encoding: .utf8) else {
                throw S3Error.invalidArgument("The continuation token provided is incorrect", name: "continuation-token", value: token)
            }
            marker = decoded
        }
        let prefix = q["prefix"] ?? ""
        var buckets: [(name: String, created: String)] = []
        var truncated = false
        // Every container, a page at a time; one more than asked tells whether there are more.
        scan: while true {
            var query = [("format", "json"), ("marker", marker), ("limit", "10000")]
            if !prefix.isEmpty { query.append(("prefix", prefix)) }
            let r = try await call.swift("GET", query: query)
            guard r.status == 200 || r.status == 204 else { throw S3Error.fromSwift(r.status, bucket: nil, key: nil) }
            let body = try await S3Call.collect(r)
            let page = body.readableBytes == 0 ? [] : try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] ?? []
            for c in page {
                guard let name = c["name"] as? String else { continue }
                marker = name
                // Multipart uploads' parts, not a bucket (as Swift's s3api).
                if name.hasSuffix("+segments") { continue }
                if buckets.count == limit {
                    truncated = true
                    break scan
                }
                buckets.append((name, (c["last_modified"] as? String).map(S3XML.time(fromSwiftListing:)) ?? S3XML.iso8601(0)))
            }
            if page.count < 10000 { break }
        }
        var xml = "<Owner>\(owner(call))</Owner><Buckets>"
        for b in buckets { xml += "<Bucket>" + S3XML.e("Name", b.name) + S3XML.e("CreationDate", b.created) + "</Bucket>" }
        xml += "</Buckets>"
        if truncated, let last = buckets.last { xml += S3XML.e("ContinuationToken", Data(last.name.utf8).base64EncodedString()) }
        if !prefix.isEmpty { xml += S3XML.e("Prefix", prefix) }
        return S3XML.response(S3XML.document("ListAllMyBucketsResult", xml), requestID: call.requestID)
    }

    /// CreateBucket: the name claimed in the registry for the signer's account (another
    /// account's: `BucketAlreadyExists`), then the container, with its canned ACL.
    static func create(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        guard let identity = call.identity else { throw S3Error.accessDenied }
        guard S3Target.isValidBucketName(bucket) else {
            throw S3Error("InvalidBucketName", "The specified bucket is not valid.", details: [("BucketName", bucket)])
        }
        let acl = try S3ACL.requested(call.request, owner: identity.storageAccount, bucketOwner: identity.storageAccount)
        if let acl { try S3ACLRequests.checkGrantees(acl, call) }
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
        let mine = identity.storageAccount
        let registry = S3BucketRegistry(call: call)
        if let holder = try await registry.claim(bucket, for: mine), holder != mine {
            throw S3Error("BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                          status: 409, details: [("BucketName", bucket)])
        }
        let head = try await call.swift("HEAD", bucket, account: mine)
        if head.status == 204 || head.status == 200 {
            // us-east-1 answers a second CreateBucket of your own bucket with success, other regions refuse it.
            guard call.settings.location == "us-east-1" else {
                throw S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.",
                              status: 409, details: [("BucketName", bucket)])
            }
            // …unless it would change the bucket's ACL.
            guard (acl ?? .private(mine)) == S3ACL(stored: head.headers.first(name: S3ACL.bucketSysmeta), owner: mine) else {
                throw S3Error("BucketAlreadyExists", "The requested bucket name is not available: it exists with another ACL.",
                              status: 409, details: [("BucketName", bucket)])
            }
            return created(call, bucket)
        }
        call.env.scope.containerSysmeta = acl.map { [(S3ACL.bucketSysmeta, $0.stored)] } ?? []
        defer { call.env.scope.containerSysmeta = [] }
        let r = try await call.swift("PUT", bucket, account: mine)
        guard r.status == 201 || r.status == 202 else {
            try? await registry.release(bucket, owner: mine)
            throw S3Error.fromSwift(r.status, bucket: bucket, key: nil)
        }
        return created(call, bucket)
    }

    private static func created(_ call: S3Call, _ bucket: String) -> HTTPResponse {
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
        // Its multipart container goes too when nothing is left in it, and the name is free again.
        _ = try await call.swift("DELETE", S3Multipart.segments(bucket))
        try await S3BucketRegistry(call: call).release(bucket, owner: call.account)
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
