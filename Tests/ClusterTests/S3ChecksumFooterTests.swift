import AWSAuth
import Digest
import Foundation
import HTTPClientKit
import Cluster
import ObjectStore
import Testing

/// A checksum known only after an S3 body (an aws-chunked trailer's) is sent to the object
/// servers as a footer of the chunked PUT and kept by every replica with the object.
@Suite(.serialized, .cluster) final class S3ChecksumFooterTests {
    let h: ClusterHarness

    init() throws { h = try ClusterHarness.scoped() }

    /// A signed S3 request to the proxy (tempauth's `test:tester` as access key).
    func s3(_ method: String, _ path: String, headers: [(String, String)] = [], payloadHash: String, body: [UInt8]? = nil) async throws -> BackendResponse {
        let host = [("Host", "127.0.0.1:\(h.proxyPort)")]
        let signature = SigV4Signer.headers(method: method, path: path, headers: host + headers + [("x-amz-content-sha256", payloadHash)],
                                            payloadHash: payloadHash, accessKey: "test:tester", secret: "testing", region: "us-east-1", service: "s3")
        return try await h.request(method, path, headers: host + headers + [("x-amz-content-sha256", payloadHash)] + signature, body: body)
    }

    @Test func aTrailersChecksumIsKeptByEveryReplica() async throws {
        #expect(try await s3("PUT", "/footers", payloadHash: Digests.sha256Hex([UInt8]())).status == 200)
        let data = Array("a body whose checksum comes last".utf8)
        var crc = CRC(.crc32)
        crc.update(data)
        let value = Data(crc.bytes).base64EncodedString()
        let encoded = Array((String(data.count, radix: 16) + "\r\n").utf8) + data + Array("\r\n0\r\nx-amz-checksum-crc32:\(value)\r\n\r\n".utf8)
        let put = try await s3("PUT", "/footers/obj", headers: [("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", String(data.count)),
                                                               ("x-amz-trailer", "x-amz-checksum-crc32")],
                               payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", body: encoded)
        #expect(put.status == 200 && put.headers.first(name: "x-amz-checksum-crc32") == value)
        let head = try await s3("HEAD", "/footers/obj", headers: [("x-amz-checksum-mode", "ENABLED")], payloadHash: Digests.sha256Hex([UInt8]()))
        #expect(head.status == 200 && head.headers.first(name: "x-amz-checksum-crc32") == value)
        let holders = h.devicesHolding(account: "AUTH_test", container: "footers", object: "obj")
        #expect(holders.count == 3)
        let hash = h.aio.state.hashPath.hash(account: "AUTH_test", container: "footers", object: "obj")
        for n in holders {
            let objects = "\(h.aio.devicesRoot(node: n))/\(AllInOne.deviceName(node: n, index: 0))/objects"
            let file = try #require(FileManager.default.subpathsOfDirectory(atPath: objects).first { $0.contains(hash) && $0.hasSuffix(".data") })
            let fd = open("\(objects)/\(file)", O_RDONLY)
            defer { close(fd) }
            var st = stat()
            fstat(fd, &st)
            let meta = try MetadataFooter.read(fd: fd, fileSize: Int64(st.st_size)).metadata
            #expect(meta["X-Object-Sysmeta-S3api-Checksum"] == "CRC32:\(value)", "node \(n)")
            #expect(meta["Content-Length"] == String(data.count), "node \(n): the decoded length")
        }
    }
}
