@testable import AWSAuth
import Digest
import Foundation
import HTTPServerKit
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NimbusCore
import Testing
@testable import Proxy

/// The `s3api` stage without sockets: requests signed as boto3 signs them, a stand-in for the
/// stages after it that records the Swift requests it is given and answers like Swift.
@Suite struct S3APITests {
    /// Records Swift requests; answers from `answer`.
    final class FakeSwift: Sendable {
        let seen = NIOLockedValueBox<[(method: String, uri: String, headers: HTTPHeaders, body: String, ended: Bool)]>([])
        /// The system metadata a plain PUT would store with its object.
        let sysmeta = NIOLockedValueBox<[(String, String)]>([])
        /// The footers it would send after the body (asked for once the body has ended).
        let footers = NIOLockedValueBox<[(String, String)]>([])
        let answer: @Sendable (HTTPRequest) -> HTTPResponse

        init(answer: @escaping @Sendable (HTTPRequest) -> HTTPResponse) { self.answer = answer }

        var next: Next {
            Next { request, env in
                // The bucket registry knows none of these buckets (containers made through Swift).
                if request.head.uri.hasPrefix("/v1/AUTH_.s3api/") { return HTTPResponse(status: 404) }
                self.sysmeta.withLockedValue { $0 = env.scope.objectSysmeta }
                var body = ""
                var ended = false
                do {
                    while let chunk = try await request.body.next() { body += String(buffer: chunk) }
                    ended = true
                    self.footers.withLockedValue { $0 = env.scope.objectFooters?() ?? [] }
                } catch {
                    // The body failed before its end: a real PUT would not be committed.
                }
                self.seen.withLockedValue { $0.append((request.method, request.head.uri, request.headers, body, ended)) }
                return self.answer(request)
            }
        }
    }

    static let amzFormat: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f
    }()

    /// A request signed with SigV4 as botocore signs S3 calls (header form).
    static func signed(_ method: String, _ uri: String, body: String = "", secret: String = "testing", at date: Date = Date(),
                       payloadHash: String? = nil, headers extra: [(String, String)] = [], unsigned: [(String, String)] = [],
                       service: String = "s3") -> HTTPRequest {
        let amzDate = amzFormat.string(from: date)
        let hash = payloadHash ?? Digests.sha256Hex(Array(body.utf8))
        var pairs = [("Host", "127.0.0.1:8080"), ("X-Amz-Date", amzDate), ("X-Amz-Content-SHA256", hash)] + extra
        pairs.sort { $0.0.lowercased() < $1.0.lowercased() }
        let parts = uri.split(separator: "?", maxSplits: 1)
        let (path, query) = (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        let request = SignedRequest(method: method, path: path, query: query, headers: pairs)
        var auth = SigV4.Authorization(accessKey: "test:tester", date: String(amzDate.prefix(8)), region: "us-east-1", service: service,
                                       signedHeaders: pairs.map { $0.0.lowercased() }, signature: "", amzDate: amzDate, expires: nil)
        let canonical = SigV4.canonicalRequest(request, auth: auth, payloadHash: hash, encodePath: false)
        auth.signature = SigV4.signature(secret: secret, auth: auth, stringToSign: SigV4.stringToSign(canonical, auth: auth))
        var headers = HTTPHeaders(pairs)
        headers.add(name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=test:tester/\(auth.scope), "
                    + "SignedHeaders=\(auth.signedHeaders.joined(separator: ";")), Signature=\(auth.signature)")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        for (name, value) in unsigned { headers.add(name: name, value: value) }
        return HTTPRequest(method: method, uri: uri, headers: headers, body: RequestBody(bytes: ByteBuffer(string: body)))
    }

    static func run(_ request: HTTPRequest, _ swift: FakeSwift) async throws -> (HTTPResponse, String) {
        let context = PipelineTests.context()
        let env = RequestEnvironment(request: request, context: context)
        let response = try await S3API(options: [:]).handle(request, env, next: swift.next)
        return (response, try await PipelineTests.body(response))
    }

    @Test func requestsNotSignedForS3GoOnUntouched() async throws {
        let swift = FakeSwift { _ in HTTPResponse(status: 204) }
        let (r, _) = try await Self.run(HTTPRequest(method: "GET", uri: "/v1/AUTH_test/c", headers: ["X-Auth-Token": "t"]), swift)
        #expect(r.status == 204)
        #expect(swift.seen.withLockedValue { $0.map(\.uri) } == ["/v1/AUTH_test/c"])
    }

    @Test func listObjectsV2IsAPageOfTheContainerListingInS3sShape() async throws {
        let listing = """
            [{"name": "a/1", "hash": "0cc175b9c0f1b6a831c399e269772661", "bytes": 1, "content_type": "x", "last_modified": "2026-12-01T04:31:44.123450"},
             {"subdir": "a/b/"}, {"name": "a/2", "hash": "x", "bytes": 2, "content_type": "x", "last_modified": "2026-12-01T04:31:45.000000"}]
            """
        let swift = FakeSwift { _ in HTTPResponse(status: 200, body: .bytes(ByteBuffer(string: listing))) }
        let (r, xml) = try await Self.run(Self.signed("GET", "/bkt?list-type=2&prefix=a%2F&delimiter=%2F&max-keys=2"), swift)
        #expect(r.status == 200, "\(xml)")
        let uri = try #require(swift.seen.withLockedValue { $0.first?.uri })
        #expect(uri == "/v1/AUTH_test/bkt?format=json&limit=3&marker=&prefix=a%2F&delimiter=%2F")
        #expect(xml.contains("<Contents><Key>a/1</Key><LastModified>2026-12-01T04:31:45.000Z</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size>"),
                "the ETag's quotes escaped, as AWS writes them; the time rounded up to the second, as Last-Modified is")
        #expect(xml.contains("<CommonPrefixes><Prefix>a/b/</Prefix></CommonPrefixes>"))
        #expect(xml.contains("<KeyCount>2</KeyCount>") && xml.contains("<IsTruncated>true</IsTruncated>"))
        #expect(xml.contains("<NextContinuationToken>\(Data("a/b/".utf8).base64EncodedString())</NextContinuationToken>"))
        #expect(!xml.contains("a/2"), "the third entry only says the page is truncated")
    }

    @Test func aWrongSecretOrASkewedClockIsRefusedBeforeAnySwiftRequest() async throws {
        let swift = FakeSwift { _ in HTTPResponse(status: 204) }
        let (wrong, body) = try await Self.run(Self.signed("GET", "/", secret: "nope"), swift)
        #expect(wrong.status == 403 && body.contains("<Code>SignatureDoesNotMatch</Code>") && body.contains("<StringToSign>AWS4-HMAC-SHA256\n"))
        let (skewed, skewBody) = try await Self.run(Self.signed("GET", "/", at: Date().addingTimeInterval(-16 * 60)), swift)
        #expect(skewed.status == 403 && skewBody.contains("<Code>RequestTimeTooSkewed</Code>"))
        let (fine, _) = try await Self.run(Self.signed("GET", "/", at: Date().addingTimeInterval(-14 * 60)), swift)
        #expect(fine.status == 200)
        #expect(swift.seen.withLockedValue { $0.count } == 1, "only the good one reached Swift")
    }

    @Test func aBodyThatIsNotTheSignedOneFailsBeforeItsEnd() async throws {
        let swift = FakeSwift { _ in HTTPResponse(status: 201, headers: ["ETag": "abc"]) }
        let (r, body) = try await Self.run(Self.signed("PUT", "/bkt/key", body: "tampered", payloadHash: Digests.sha256Hex(Array("original".utf8))), swift)
        #expect(r.status == 400 && body.contains("<Code>XAmzContentSHA256Mismatch</Code>"), "\(body)")
        #expect(swift.seen.withLockedValue { $0.first?.ended } == false, "the object servers never saw the body end")
        let (ok, _) = try await Self.run(Self.signed("PUT", "/bkt/key", body: "original"), swift)
        #expect(ok.status == 200 && ok.headers.first(name: "etag") == "\"abc\"")
        #expect(swift.seen.withLockedValue { $0.last?.ended } == true)
    }

    @Test func metadataAndChecksumsMapOntoSwiftHeaders() async throws {
        let swift = FakeSwift { _ in HTTPResponse(status: 201, headers: ["ETag": "abc"]) }
        let crc = Data(CRCVectors.crc32OfOriginal).base64EncodedString()
        let md5 = Data(Digests.digest(.md5, Array("original".utf8))).base64EncodedString()
        let (r, _) = try await Self.run(Self.signed("PUT", "/bkt/key", body: "original", headers: [
            ("x-amz-meta-Color", "blue"), ("Content-Type", "text/plain"), ("x-amz-checksum-crc32", crc), ("Content-MD5", md5)]), swift)
        #expect(r.status == 200 && r.headers.first(name: "x-amz-checksum-crc32") == crc)
        let headers = try #require(swift.seen.withLockedValue { $0.first?.headers })
        #expect(headers.first(name: "x-object-meta-color") == "blue" && headers.first(name: "content-type") == "text/plain")
        #expect(headers.first(name: "etag") == Digests.md5Hex(Array("original".utf8)), "Content-MD5 checked by the object servers as Swift's ETag")
        #expect(swift.sysmeta.withLockedValue { $0.map { "\($0.0)=\($0.1)" } } == ["X-Object-Sysmeta-S3api-Checksum=CRC32:\(crc)"])
        let (bad, badBody) = try await Self.run(Self.signed("PUT", "/bkt/key", body: "original", headers: [("x-amz-checksum-crc32", "AAAAAA==")]), swift)
        #expect(bad.status == 400 && badBody.contains("<Code>BadDigest</Code>"))
    }

    @Test func unsignedAmzHeadersAndOtherServicesSignaturesAreRefused() async throws {
        let swift = FakeSwift { _ in HTTPResponse(status: 201, headers: ["ETag": "abc"]) }
        let (copy, copyBody) = try await Self.run(Self.signed("PUT", "/bkt/key", unsigned: [("x-amz-copy-source", "/other/secret")]), swift)
        #expect(copy.status == 403 && copyBody.contains("<HeadersNotSigned>x-amz-copy-source</HeadersNotSigned>"), "\(copyBody)")
        let (ec2, ec2Body) = try await Self.run(Self.signed("GET", "/", service: "ec2"), swift)
        #expect(ec2.status == 400 && ec2Body.contains("<Code>AuthorizationHeaderMalformed</Code>"), "\(ec2Body)")
        // SigV2's Expires: a number past 2038 (or not one) is refused, never converted.
        for expires in ["1e19", "99999999999999999999", "4102444800"] {
            let request = HTTPRequest(method: "GET", uri: "/bkt/key?AWSAccessKeyId=test%3Atester&Signature=x&Expires=\(expires)")
            let (r, body) = try await Self.run(request, swift)
            #expect(r.status == 403 && body.contains("<Code>AccessDenied</Code>"), "\(expires): \(body)")
        }
        #expect(swift.seen.withLockedValue { $0.isEmpty })
    }

    @Test func anEmptyBodyIsCheckedToo() async throws {
        let swift = FakeSwift { _ in HTTPResponse(status: 201, headers: ["ETag": "d41d8cd98f00b204e9800998ecf8427e"]) }
        let (r, body) = try await Self.run(Self.signed("PUT", "/bkt/empty", body: "", headers: [("x-amz-checksum-crc32", "AAAAAQ==")]), swift)
        #expect(r.status == 400 && body.contains("<Code>BadDigest</Code>"), "\(body)")
        #expect(swift.seen.withLockedValue { $0.isEmpty }, "checked before anything was sent")
    }

    @Test func bucketNamesAreCheckedAsS3ChecksThem() {
        for good in ["abc", "my-bucket.2026", String(repeating: "a", count: 63)] { #expect(S3Target.isValidBucketName(good), "\(good)") }
        for bad in ["ab", "Abc", "a_b", "-abc", "abc-", "a..b", "a.-b", "192.168.1.1", String(repeating: "a", count: 64)] {
            #expect(!S3Target.isValidBucketName(bad), "\(bad)")
        }
    }

    @Test func virtualHostedAndPathStyleAddressTheSameObject() throws {
        let path = try S3Target(HTTPRequest(method: "GET", uri: "/bkt/a%20b/c?acl", headers: ["Host": "s3.example.org"]),
                                storageDomain: "s3.example.org")
        #expect(path.bucket == "bkt" && path.key == "a b/c" && path.query["acl"] == "" && path.resourcePath == "/bkt/a%20b/c")
        let hosted = try S3Target(HTTPRequest(method: "GET", uri: "/a%20b/c", headers: ["Host": "bkt.s3.example.org:8080"]),
                                  storageDomain: "s3.example.org")
        #expect(hosted.bucket == "bkt" && hosted.key == "a b/c" && hosted.resourcePath == "/bkt/a%20b/c")
    }

    @Test func sigV2SignsAsAWSsDocumentedExample() {
        // AWS's S3 REST authentication example (GET /photos/puppy.jpg on johnsmith).
        let request = SignedRequest(method: "GET", path: "/photos/puppy.jpg", query: "",
                                    headers: [("Host", "johnsmith.s3.amazonaws.com"), ("Date", "Tue, 27 Mar 2007 19:36:42 +0000")])
        let toSign = S3SigV2.stringToSign(request, resourcePath: "/johnsmith/photos/puppy.jpg", expires: nil)
        #expect(toSign == "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg")
        #expect(SigV2.signature(secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", algorithm: .sha1, stringToSign: toSign) == "bWq2s1WEIj+Ydj0vQ697zp+IXMU=")
    }
}

/// CRC-32 of "original", as a checksum header carries it.
enum CRCVectors {
    static var crc32OfOriginal: [UInt8] {
        var c = CRC(.crc32)
        c.update(Array("original".utf8))
        return c.bytes
    }
}
