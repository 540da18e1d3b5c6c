@testable import AWSAuth
import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import Testing
@testable import Proxy

/// aws-chunked uploads through the `s3api` stage: decoded into the Swift PUT with the object's
/// real length, and refused — the body never reaching its end — when a chunk, the trailer or
/// its checksum is wrong.
@Suite struct S3ChunkedUploadTests {
    /// A PutObject whose body is `data` aws-chunked in pieces of `chunk`, signed chunk by chunk
    /// unless `unsigned`, with a CRC-32 trailer when `crc` is given; `tamper` changes the encoding.
    static func upload(_ data: String, chunk: Int = 5, unsigned: Bool = false, crc: String? = nil,
                       tamper: (inout String) -> Void = { _ in }) -> HTTPRequest {
        let mode = unsigned ? "STREAMING-UNSIGNED-PAYLOAD-TRAILER" : crc != nil ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" : "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        var extra = [("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", String(data.utf8.count))]
        if crc != nil { extra.append(("x-amz-trailer", "x-amz-checksum-crc32")) }
        let date = Date()
        let head = S3APITests.signed("PUT", "/bkt/key", at: date, payloadHash: mode, headers: extra)
        let authorization = head.header("authorization") ?? ""
        let seed = String(authorization[authorization.range(of: "Signature=")!.upperBound...])
        let amzDate = head.header("x-amz-date") ?? ""
        let auth = SigV4.Authorization(accessKey: "test:tester", date: String(amzDate.prefix(8)), region: "us-east-1", service: "s3",
                                       signedHeaders: [], signature: seed, amzDate: amzDate, expires: nil)
        var chain = SigV4ChunkChain(secret: "testing", auth: auth)
        var body = ""
        var pieces = stride(from: 0, to: data.utf8.count, by: chunk).map { Array(data.utf8)[$0..<min(data.utf8.count, $0 + chunk)] }
        pieces.append([])
        for piece in pieces {
            var header = String(piece.count, radix: 16)
            if !unsigned {
                let signature = chain.chunkSignature(sha256Hex: Digests.sha256Hex(piece))
                _ = chain.accept(chunkSHA256Hex: Digests.sha256Hex(piece), signature: signature)
                header += ";chunk-signature=" + signature
            }
            body += header + "\r\n" + String(decoding: piece, as: UTF8.self) + (piece.isEmpty ? "" : "\r\n")
        }
        if let crc {
            body += "x-amz-checksum-crc32:\(crc)\r\n"
            if !unsigned { body += "x-amz-trailer-signature:\(chain.trailerSignature([("x-amz-checksum-crc32", crc)]))\r\n" }
        }
        body += "\r\n"
        tamper(&body)
        var headers = head.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(body.utf8.count))
        return HTTPRequest(method: "PUT", uri: "/bkt/key", headers: headers, body: RequestBody(bytes: ByteBuffer(string: body)))
    }

    static let crcOfOriginal = Data(CRCVectors.crc32OfOriginal).base64EncodedString()

    static func stored() -> S3APITests.FakeSwift { S3APITests.FakeSwift { _ in HTTPResponse(status: 201, headers: ["ETag": "abc"]) } }

    @Test(arguments: [(false, false), (false, true), (true, true)])
    func aChunkedUploadIsStoredAsItsDecodedBytes(unsigned: Bool, withCRC: Bool) async throws {
        let swift = Self.stored()
        let (r, body) = try await S3APITests.run(Self.upload("original", chunk: 3, unsigned: unsigned, crc: withCRC ? Self.crcOfOriginal : nil), swift)
        #expect(r.status == 200, "\(body)")
        let put = try #require(swift.seen.withLockedValue { $0.first })
        #expect(put.body == "original" && put.ended)
        #expect(put.headers.first(name: "content-length") == "8" && put.headers.first(name: "content-encoding") == nil,
                "the object's own length; aws-chunked is not the object's encoding")
        if withCRC {
            #expect(r.headers.first(name: "x-amz-checksum-crc32") == Self.crcOfOriginal)
            let footers = swift.footers.withLockedValue { $0 }
            #expect(footers.count == 1 && footers.first?.0 == "X-Object-Sysmeta-S3api-Checksum" && footers.first?.1 == "CRC32:\(Self.crcOfOriginal)",
                    "the trailer's checksum goes to the object servers after the body: \(footers)")
        }
    }

    @Test func anEmptyChunkedUploadIsCheckedBeforeAnythingIsSent() async throws {
        let swift = Self.stored()
        let (ok, _) = try await S3APITests.run(Self.upload("", unsigned: true, crc: "AAAAAA=="), swift)
        #expect(ok.status == 200 && swift.seen.withLockedValue { $0.first?.headers.first(name: "content-length") } == "0")
        let refused = Self.stored()
        let (bad, body) = try await S3APITests.run(Self.upload("", unsigned: true, crc: "AAAAAQ=="), refused)
        #expect(bad.status == 400 && body.contains("<Code>BadDigest</Code>"), "\(body)")
        #expect(refused.seen.withLockedValue { $0.isEmpty })
    }

    @Test(arguments: [
        ("a changed byte", "SignatureDoesNotMatch"),
        ("a forged trailer", "SignatureDoesNotMatch"),
        ("a wrong checksum", "BadDigest"),
        ("a cut body", "IncompleteBody"),
    ])
    func aBadChunkedUploadNeverReachesItsEnd(what: String, code: String) async throws {
        let swift = Self.stored()
        let request: HTTPRequest
        switch what {
        case "a changed byte": request = Self.upload("original", chunk: 3, crc: Self.crcOfOriginal) { $0 = $0.replacingOccurrences(of: "\r\ngin\r\n", with: "\r\nGIN\r\n") }
        case "a forged trailer": request = Self.upload("original", chunk: 3, crc: Self.crcOfOriginal) {
            $0 = $0.replacingOccurrences(of: Self.crcOfOriginal, with: "AAAAAA==")
        }
        case "a wrong checksum": request = Self.upload("original", chunk: 3, unsigned: true, crc: "AAAAAA==")
        default: request = Self.upload("original", chunk: 3) { $0 = String($0.dropLast(40)) }
        }
        let (r, body) = try await S3APITests.run(request, swift)
        #expect(body.contains("<Code>\(code)</Code>"), "\(what): \(body)")
        #expect(r.status == (code == "SignatureDoesNotMatch" ? 403 : 400))
        let put = try #require(swift.seen.withLockedValue { $0.first })
        #expect(!put.ended && put.body.utf8.count < 8, "\(what): the object servers never saw the last byte")
    }

    @Test func aChunkedUploadNeedsItsDecodedLength() async throws {
        let swift = Self.stored()
        let request = S3APITests.signed("PUT", "/bkt/key", body: "0\r\n\r\n", payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                        headers: [("Content-Encoding", "aws-chunked")])
        let (r, body) = try await S3APITests.run(request, swift)
        #expect(r.status == 411 && body.contains("<Code>MissingContentLength</Code>"), "\(body)")
        #expect(swift.seen.withLockedValue { $0.isEmpty })
    }
}
