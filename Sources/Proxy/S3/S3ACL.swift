import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// Canned ACLs (`private`, `public-read`, `public-read-write`, `authenticated-read`,
/// `bucket-owner-read`, `bucket-owner-full-control`) on buckets and objects, kept as system
/// metadata (`X-Container-Sysmeta-S3api-Acl`, `X-Object-Sysmeta-S3api-Acl`), answered by
/// GetBucketAcl/GetObjectAcl as AWS renders them, and enforced by `S3Access` for requests from
/// other accounts and anonymous ones. Grants to named users (`x-amz-grant-*`, policies with
/// other grantees) are not offered: `NotImplemented`.
enum S3ACL {
    static let canned: Set<String> = ["private", "public-read", "public-read-write", "authenticated-read", "bucket-owner-read",
                                      "bucket-owner-full-control"]
    static let bucketSysmeta = "X-Container-Sysmeta-S3api-Acl"
    static let objectSysmeta = "X-Object-Sysmeta-S3api-Acl"
    static let allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"
    static let authenticatedUsers = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

    /// The canned ACL a request asks for (`x-amz-acl`), nil when none; refuses unknown names and grants.
    static func requested(_ request: HTTPRequest) throws(S3Error) -> String? {
        if let grant = request.headers.first(where: { $0.name.lowercased().hasPrefix("x-amz-grant-") }) {
            throw S3Error.notImplemented("\(grant.name) (grants to named users; canned ACLs are offered)")
        }
        guard let acl = request.header("x-amz-acl") else { return nil }
        guard canned.contains(acl) else { throw S3Error.invalidArgument("The canned ACL is not valid.", name: "x-amz-acl", value: acl) }
        return acl
    }

    /// Whether `acl` lets anyone (`anonymous`) or any authenticated requester read.
    static func grantsRead(_ acl: String?, authenticated: Bool) -> Bool {
        acl == "public-read" || acl == "public-read-write" || (authenticated && acl == "authenticated-read")
    }

    static func grantsWrite(_ acl: String?) -> Bool { acl == "public-read-write" }

    /// S3's AccessControlPolicy document of a canned ACL owned by `owner`: grants to groups
    /// first, the owner's FULL_CONTROL last.
    static func policy(_ acl: String, owner: String) -> String {
        func group(_ uri: String, _ permission: String) -> String {
            "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">" + S3XML.e("URI", uri)
                + "</Grantee>" + S3XML.e("Permission", permission) + "</Grant>"
        }
        var grants = ""
        switch acl {
        case "public-read": grants += group(allUsers, "READ")
        case "public-read-write": grants += group(allUsers, "READ") + group(allUsers, "WRITE")
        case "authenticated-read": grants += group(authenticatedUsers, "READ")
        default: break
        }
        let ownerXML = S3XML.e("ID", owner) + S3XML.e("DisplayName", owner)
        grants += "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">" + ownerXML
            + "</Grantee>" + S3XML.e("Permission", "FULL_CONTROL") + "</Grant>"
        return S3XML.document("AccessControlPolicy", "<Owner>\(ownerXML)</Owner><AccessControlList>\(grants)</AccessControlList>")
    }

    /// The canned ACL an AccessControlPolicy body says (PutBucketAcl/PutObjectAcl without
    /// `x-amz-acl`): only the shapes of canned ACLs are understood.
    static func canned(fromPolicy bytes: [UInt8], owner: String) throws(S3Error) -> String {
        guard let tree = try? XMLTree.parse(bytes), tree.name == "AccessControlPolicy",
              let list = tree.child("AccessControlList") else { throw S3Error.malformedXML }
        var groups: Set<String> = []
        var ownerFull = false
        for grant in list.children where grant.name == "Grant" {
            guard let grantee = grant.child("Grantee"), let permission = grant.child("Permission")?.text else { throw S3Error.malformedXML }
            if let uri = grantee.child("URI")?.text {
                groups.insert("\(uri) \(permission)")
            } else if grantee.child("ID")?.text == owner, permission == "FULL_CONTROL" {
                ownerFull = true
            } else {
                throw S3Error.notImplemented("grants other than a canned ACL's")
            }
        }
        guard ownerFull else { throw S3Error.notImplemented("an ACL that does not give the owner FULL_CONTROL") }
        switch groups {
        case []: return "private"
        case ["\(allUsers) READ"]: return "public-read"
        case ["\(allUsers) READ", "\(allUsers) WRITE"]: return "public-read-write"
        case ["\(authenticatedUsers) READ"]: return "authenticated-read"
        default: throw S3Error.notImplemented("grants other than a canned ACL's")
        }
    }

    /// GetBucketAcl / PutBucketAcl (`?acl` on a bucket): the bucket owner's only.
    static func bucket(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        guard call.isOwner else { throw S3Error.accessDenied }
        let head = try await call.swift("HEAD", bucket)
        guard head.status == 204 || head.status == 200 else { throw S3Error.fromSwift(head.status, bucket: bucket, key: nil) }
        if call.method == "GET" {
            let acl = head.headers.first(name: bucketSysmeta) ?? "private"
            return S3XML.response(policy(acl, owner: call.account), requestID: call.requestID)
        }
        guard call.method == "PUT" else { throw S3Operations.methodNotAllowed(call) }
        let acl = try await requestedOrPolicy(call)
        call.env.scope.containerSysmeta = [(bucketSysmeta, acl)]
        defer { call.env.scope.containerSysmeta = [] }
        let r = try await call.swift("POST", bucket)
        guard r.status == 204 || r.status == 200 else { throw S3Error.fromSwift(r.status, bucket: bucket, key: nil) }
        return call.s3Response(200)
    }

    /// GetObjectAcl / PutObjectAcl (`?acl` on an object): the bucket owner's only. A new ACL
    /// is kept by copying the object onto itself with it (system metadata changes only on PUT).
    static func object(_ call: S3Call, _ bucket: String, _ key: String) async throws -> HTTPResponse {
        guard call.isOwner else { throw S3Error.accessDenied }
        let head = try await call.swift("HEAD", bucket, key)
        guard head.status == 200 else { throw try await S3Objects.refusal(call, head.status, bucket, key) }
        if call.method == "GET" {
            let acl = head.headers.first(name: objectSysmeta) ?? "private"
            return S3XML.response(policy(acl, owner: call.account), requestID: call.requestID)
        }
        guard call.method == "PUT" else { throw S3Operations.methodNotAllowed(call) }
        let acl = try await requestedOrPolicy(call)
        guard head.headers.first(name: "x-static-large-object")?.lowercased() != "true" else {
            throw S3Error.notImplemented("changing the ACL of a completed multipart upload")
        }
        var headers = HTTPHeaders()
        headers.add(name: "X-Copy-From", value: "/" + PercentCoding.encodePath(bucket, keepSlash: false) + "/" + PercentCoding.encodePath(key))
        call.env.scope.objectSysmeta = [(objectSysmeta, acl)]
        defer { call.env.scope.objectSysmeta = [] }
        let r = try await call.swift("PUT", bucket, key, headers: headers)
        guard r.status == 201 else { throw try await S3Objects.refusal(call, r.status, bucket, key) }
        return call.s3Response(200)
    }

    private static func requestedOrPolicy(_ call: S3Call) async throws -> String {
        if let acl = try requested(call.request) { return acl }
        let body = try await call.request.body.collect(limit: 64 << 10)
        guard body.readableBytes > 0 else {
            throw S3Error("MissingSecurityHeader", "Your request was missing a required header.", details: [("MissingHeaderName", "x-amz-acl")])
        }
        return try canned(fromPolicy: Array(body.readableBytesView), owner: call.account)
    }
}
