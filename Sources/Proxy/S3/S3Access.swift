import HTTPServerKit
import NIOHTTP1

/// What a request from another account, or an anonymous one, may do in a bucket: what the
/// bucket's and its objects' ACLs grant, as S3 decides it — bucket READ lists it, bucket WRITE
/// writes and deletes objects in it (a copy also needs READ of its source), READ_ACP/WRITE_ACP
/// read and change an ACL, an object's READ reads that object. An allowed request is then made
/// as the bucket's owner; what it writes is owned by the requester. The bucket account's own
/// users are left to Swift's rules (owners, container ACLs), as before.
enum S3Access {
    enum Need { case bucket(S3ACL.Permission), object(S3ACL.Permission) }

    static func authorize(_ call: inout S3Call) async throws {
        guard let bucket = call.target.bucket else { return }
        if let identity = call.identity, identity.storageAccount == call.account || call.isOwner { return }
        let need: Need
        let isACL = call.target.query["acl"] != nil
        let reads = ["GET", "HEAD"].contains(call.method)
        if call.target.key != nil {
            if isACL {
                need = .object(reads ? .readACP : .writeACP)
            } else if reads, call.target.query["uploadId"] == nil {
                need = .object(.read)
            } else {
                need = .bucket(.write)
            }
        } else if isACL {
            need = .bucket(reads ? .readACP : .writeACP)
        } else if reads {
            need = .bucket(.read)
        } else if call.method == "POST", call.target.query["delete"] != nil {
            need = .bucket(.write)
        } else {
            throw S3Error.accessDenied
        }
        let owner = Identity(account: call.account, user: "", storageAccount: call.account, groups: [call.account])
        let requester = call.identity?.storageAccount
        let bucketHead = try await call.swift("HEAD", bucket, as: owner)
        guard bucketHead.status == 204 || bucketHead.status == 200 else { throw S3Error.fromSwift(bucketHead.status, bucket: bucket, key: nil) }
        let bucketACL = S3ACL(stored: bucketHead.headers.first(name: S3ACL.bucketSysmeta), owner: call.account)
        switch need {
        case .bucket(let permission):
            guard bucketACL.allows(permission, requester: requester) else { throw S3Error.accessDenied }
        case .object(let permission):
            let key = call.target.key ?? ""
            let head = try await call.swift("HEAD", bucket, key, as: owner)
            if head.status == 404 {
                // Whether the key exists is for those who may list the bucket to know.
                throw bucketACL.allows(.read, requester: requester) ? S3Error.noSuchKey(key) : S3Error.accessDenied
            }
            guard (200..<300).contains(head.status) else { throw S3Error.fromSwift(head.status, bucket: bucket, key: key) }
            guard objectACL(head.headers, call).allows(permission, requester: requester) else { throw S3Error.accessDenied }
        }
        call.actingAs = owner
    }

    /// An object's ACL, from its answer's headers (private to the bucket's account without one).
    static func objectACL(_ headers: HTTPHeaders, _ call: S3Call) -> S3ACL {
        S3ACL(stored: headers.first(name: S3ACL.objectSysmeta), owner: call.account)
    }

    /// For a request an ACL allowed (made as the owner): whether the object answered still
    /// grants `permission` (it may have been replaced since the ACL was looked at).
    static func stillAllowed(_ call: S3Call, _ headers: HTTPHeaders, _ permission: S3ACL.Permission = .read) -> Bool {
        call.actingAs == nil || objectACL(headers, call).allows(permission, requester: call.identity?.storageAccount)
    }
}
