import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// GetBucketAcl, PutBucketAcl, GetObjectAcl and PutObjectAcl (`?acl`). Who may call them —
/// the bucket's account, or whoever the ACL grants READ_ACP / WRITE_ACP — `S3Access` decided.
enum S3ACLRequests {
    static func bucket(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        let head = try await call.swift("HEAD", bucket)
        guard head.status == 204 || head.status == 200 else { throw S3Error.fromSwift(head.status, bucket: bucket, key: nil) }
        let current = S3ACL(stored: head.headers.first(name: S3ACL.bucketSysmeta), owner: call.account)
        if call.method == "GET" { return S3XML.response(current.policy, requestID: call.requestID) }
        guard call.method == "PUT" else { throw S3Operations.methodNotAllowed(call) }
        let acl = try await requested(call, owner: current.owner)
        call.env.scope.containerSysmeta = [(S3ACL.bucketSysmeta, acl.stored)]
        defer { call.env.scope.containerSysmeta = [] }
        let r = try await call.swift("POST", bucket)
        guard r.status == 204 || r.status == 200 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: nil) }
        return call.s3Response(200)
    }

    /// A new object ACL is kept by copying the object onto itself with it (system metadata
    /// changes only on PUT).
    static func object(_ call: S3Call, _ bucket: String, _ key: String) async throws -> HTTPResponse {
        let head = try await call.swift("HEAD", bucket, key)
        guard head.status == 200 else { throw try await S3Objects.refusal(call, head.status, bucket, key) }
        let current = S3ACL(stored: head.headers.first(name: S3ACL.objectSysmeta), owner: call.account)
        if call.method == "GET" { return S3XML.response(current.policy, requestID: call.requestID) }
        guard call.method == "PUT" else { throw S3Operations.methodNotAllowed(call) }
        let acl = try await requested(call, owner: current.owner)
        guard head.headers.first(name: "x-static-large-object")?.lowercased() != "true" else {
            throw S3Error.notImplemented("changing the ACL of a completed multipart upload")
        }
        var headers = HTTPHeaders()
        headers.add(name: "X-Copy-From", value: "/" + PercentCoding.encodePath(bucket, keepSlash: false) + "/" + PercentCoding.encodePath(key))
        call.env.scope.objectSysmeta = [(S3ACL.objectSysmeta, acl.stored)]
        defer { call.env.scope.objectSysmeta = [] }
        let r = try await call.swift("PUT", bucket, key, headers: headers)
        guard r.status == 201 else { throw try await S3Objects.refusal(call, r.status, bucket, key) }
        return call.s3Response(200)
    }

    /// The ACL of an object a call writes: the one it asks for, else private to its writer
    /// (nil: the bucket account's, kept without an ACL).
    static func forNewObject(_ call: S3Call) throws(S3Error) -> S3ACL? {
        if let acl = try S3ACL.requested(call.request, owner: call.writer, bucketOwner: call.account) {
            try checkGrantees(acl, call)
            return acl
        }
        return call.writer == call.account ? nil : .private(call.writer)
    }

    /// The ACL a PutBucketAcl/PutObjectAcl sets: its headers, else its AccessControlPolicy.
    private static func requested(_ call: S3Call, owner: String) async throws -> S3ACL {
        let body = try await call.request.body.collect(limit: 64 << 10)
        let acl: S3ACL
        if let asked = try S3ACL.requested(call.request, owner: owner, bucketOwner: call.account) {
            acl = asked
        } else {
            guard body.readableBytes > 0 else {
                throw S3Error("MissingSecurityHeader", "Your request was missing a required header.", details: [("MissingHeaderName", "x-amz-acl")])
            }
            acl = try S3ACL.fromPolicy(Array(body.readableBytesView), owner: owner)
        }
        try checkGrantees(acl, call)
        return acl
    }

    /// Grants go to accounts this proxy serves: ids that start with a reseller prefix
    /// (tempauth's users', Keystone's, `AUTH_`) and name something after it.
    static func checkGrantees(_ acl: S3ACL, _ call: S3Call) throws(S3Error) {
        let config = call.env.context.config
        let prefixes = Set(config.users.map(\.resellerPrefix) + [config.keystone?.resellerPrefix ?? "AUTH_", "AUTH_"]).filter { !$0.isEmpty }
        for grant in acl.grants {
            guard case .user(let id) = grant.grantee else { continue }
            guard prefixes.contains(where: { id.hasPrefix($0) && id.count > $0.count }) else {
                throw S3Error.invalidArgument("Invalid id", name: "CanonicalUser/ID", value: id)
            }
        }
    }
}
