import HTTPServerKit

/// What a request from another account, or an anonymous one, may do in a bucket: what the
/// bucket's and its objects' canned ACLs grant, as S3 decides it — bucket READ lists it,
/// bucket WRITE (public-read-write) writes and deletes objects in it, an object's READ reads
/// that object; ACLs themselves and copies stay the owner's. An allowed request is then made as
/// the bucket's owner. The bucket account's own users are left to Swift's rules (owners,
/// container ACLs), as before.
enum S3Access {
    enum Need { case bucketRead, bucketWrite, objectRead }

    static func authorize(_ call: inout S3Call) async throws {
        guard let bucket = call.target.bucket else { return }
        if let identity = call.identity, identity.storageAccount == call.account || call.isOwner { return }
        guard call.target.query["acl"] == nil else { throw S3Error.accessDenied }
        let need: Need
        if let key = call.target.key {
            _ = key
            if ["GET", "HEAD"].contains(call.method), call.target.query["uploadId"] == nil {
                need = .objectRead
            } else if call.request.header("x-amz-copy-source") != nil {
                throw S3Error("AccessDenied", "Copies are made by the owner of the destination bucket's account.", status: 403)
            } else {
                need = .bucketWrite
            }
        } else if ["GET", "HEAD"].contains(call.method) {
            need = .bucketRead
        } else if call.method == "POST", call.target.query["delete"] != nil {
            need = .bucketWrite
        } else {
            throw S3Error.accessDenied
        }
        let owner = Identity(account: call.account, user: "", storageAccount: call.account, groups: [call.account])
        let authenticated = call.identity != nil
        let bucketHead = try await call.swift("HEAD", bucket, as: owner)
        guard bucketHead.status == 204 || bucketHead.status == 200 else { throw S3Error.fromSwift(bucketHead.status, bucket: bucket, key: nil) }
        let bucketACL = bucketHead.headers.first(name: S3ACL.bucketSysmeta)
        switch need {
        case .bucketRead:
            guard S3ACL.grantsRead(bucketACL, authenticated: authenticated) else { throw S3Error.accessDenied }
        case .bucketWrite:
            guard S3ACL.grantsWrite(bucketACL) else { throw S3Error.accessDenied }
        case .objectRead:
            let key = call.target.key ?? ""
            let head = try await call.swift("HEAD", bucket, key, as: owner)
            if head.status == 404 {
                // Whether the key exists is for those who may list the bucket to know.
                throw S3ACL.grantsRead(bucketACL, authenticated: authenticated) ? S3Error.noSuchKey(key) : S3Error.accessDenied
            }
            guard (200..<300).contains(head.status) else { throw S3Error.fromSwift(head.status, bucket: bucket, key: key) }
            guard S3ACL.grantsRead(head.headers.first(name: S3ACL.objectSysmeta), authenticated: authenticated) else { throw S3Error.accessDenied }
        }
        call.actingAs = owner
    }
}
