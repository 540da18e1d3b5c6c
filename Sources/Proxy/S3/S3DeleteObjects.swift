import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NimbusCore

/// DeleteObjects (`POST /bucket?delete`): up to 1000 keys in one call, each deleted as
/// DeleteObject would, the answer listing each (only the errors in quiet mode). The body must
/// come with `Content-MD5` or an `x-amz-checksum-*`, as S3 requires, and match it.
enum S3DeleteObjects {
    static func run(_ call: S3Call, _ bucket: String) async throws -> HTTPResponse {
        let upload = try S3Upload(call)
        guard call.request.header("content-md5") != nil || upload.check.checksum != nil else {
            throw S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
        }
        let body = try await upload.body.collect(limit: 2 << 20)
        if let failure = upload.failure { throw failure }
        let bytes = Array(body.readableBytesView)
        if let expected = try S3Objects.contentMD5(call.request) {
            guard Digests.digest(.md5, bytes) == expected else {
                throw S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")
            }
        }
        guard let tree = try? XMLTree.parse(bytes), tree.name == "Delete" else { throw S3Error.malformedXML }
        let quiet = tree.child("Quiet")?.text.lowercased() == "true"
        let objects = tree.children.filter { $0.name == "Object" }
        guard !objects.isEmpty, objects.count <= call.settings.maxMultiDeleteObjects else { throw S3Error.malformedXML }
        var keys: [String] = []
        for o in objects {
            guard let key = o.child("Key")?.rawText, !key.isEmpty else { throw S3Error.malformedXML }
            if let version = o.child("VersionId")?.text, version != "null", !version.isEmpty {
                throw S3Error.notImplemented("deleting object versions")
            }
            keys.append(key)
        }
        let head = try await call.swift("HEAD", bucket)
        guard head.status == 204 || head.status == 200 else { throw S3Error.fromSwift(head.status, bucket: bucket, key: nil) }
        // A few deletes at a time, the answer in the request's order.
        var statuses = [Int](repeating: 0, count: keys.count)
        let all = keys
        try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            var started = 0
            while started < min(8, all.count) {
                let i = started
                group.addTask { (i, try await S3Objects.remove(call, bucket, all[i])) }
                started += 1
            }
            for try await (i, status) in group {
                statuses[i] = status
                if started < all.count {
                    let n = started
                    group.addTask { (n, try await S3Objects.remove(call, bucket, all[n])) }
                    started += 1
                }
            }
        }
        var xml = ""
        for (key, status) in zip(keys, statuses) {
            switch status {
            case 204, 200, 404:
                if !quiet { xml += "<Deleted>" + S3XML.e("Key", key) + "</Deleted>" }
            default:
                let e = S3Error.fromSwift(status, bucket: bucket, key: key)
                xml += "<Error>" + S3XML.e("Key", key) + S3XML.e("Code", e.code) + S3XML.e("Message", e.message) + "</Error>"
            }
        }
        return S3XML.response(S3XML.document("DeleteResult", xml), requestID: call.requestID)
    }
}
