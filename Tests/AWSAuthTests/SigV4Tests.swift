@testable import AWSAuth
import Digest
import Foundation
import Testing

/// A captured request: request line, headers, body.
struct CapturedRequest {
    let name: String
    let request: SignedRequest
    let body: [UInt8]

    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

    static func all() throws -> [CapturedRequest] {
        let dir = try #require(Bundle.module.url(forResource: "Vectors", withExtension: nil))
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".txt") }.sorted().map { name in
            try parse(name: name, Data(contentsOf: dir.appendingPathComponent(name)))
        }
    }

    static func parse(name: String, _ data: Data) throws -> CapturedRequest {
        let text = String(decoding: data, as: UTF8.self)
        let start = try #require(text.range(of: "=== REQUEST ===\n"))
        let end = try #require(text.range(of: "\n=== RESPONSE ===", range: start.upperBound..<text.endIndex))
        let raw = text[start.upperBound..<end.lowerBound]
        let headEnd = try #require(raw.range(of: "\n\n"))
        var lines = raw[..<headEnd.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst().split(separator: " ")
        let target = String(requestLine[1])
        let (path, query) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) }
            ?? (target, "")
        let headers = lines.map { line -> (name: String, value: String) in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Array(raw[headEnd.upperBound...].utf8)
        while body.last == UInt8(ascii: "\n") { body.removeLast() }
        return CapturedRequest(name: name, request: SignedRequest(method: String(requestLine[0]), path: path, query: query, headers: headers),
                               body: body)
    }

    /// What the server hashes: S3 clients send the payload's hash; EC2's is the body's.
    var payloadHash: String {
        request.headers.first { $0.name.lowercased() == "x-amz-content-sha256" }?.value ?? Digests.sha256Hex(body)
    }

    var isS3: Bool { (try? SigV4.authorization(of: request))?.service == "s3" }

    func verify(secret: String = secret, now: Double? = nil, payloadHash: String? = nil) throws(SigV4Error) {
        let auth = try SigV4.authorization(of: request)
        try SigV4.verify(request, auth: auth, secret: secret, payloadHash: payloadHash ?? self.payloadHash, encodePath: !isS3,
                         now: now ?? SigV4.time(auth.amzDate)!)
    }
}

@Suite struct SigV4Tests {
    @Test func everyCapturedRequestVerifies() throws {
        let all = try CapturedRequest.all()
        #expect(all.count == 44)
        for c in all {
            #expect(throws: Never.self, "\(c.name)") { try c.verify() }
        }
    }

    @Test func aWrongSecretIsAMismatch() throws {
        for c in try CapturedRequest.all() {
            #expect(throws: SigV4Error.mismatch, "\(c.name)") { try c.verify(secret: CapturedRequest.secret + "x") }
        }
    }

    @Test func anAlteredBodyIsAMismatch() throws {
        let ec2 = try CapturedRequest.all().filter { !$0.isS3 && !$0.body.isEmpty }
        #expect(ec2.count > 30)
        for c in ec2 {
            let altered = Digests.sha256Hex(c.body + Array("&KeyName=other".utf8))
            #expect(throws: SigV4Error.mismatch, "\(c.name)") { try c.verify(payloadHash: altered) }
        }
    }

    @Test func aSixteenMinuteSkewIsExpiredAndFourteenIsNot() throws {
        let c = try #require(try CapturedRequest.all().first { $0.name.hasPrefix("008") })
        let signedAt = try #require(SigV4.time(try SigV4.authorization(of: c.request).amzDate))
        #expect(throws: Never.self) { try c.verify(now: signedAt + 14 * 60) }
        #expect(throws: Never.self) { try c.verify(now: signedAt - 14 * 60) }
        #expect { try c.verify(now: signedAt + 16 * 60) } throws: { if case .expired = $0 as? SigV4Error { true } else { false } }
        #expect { try c.verify(now: signedAt - 16 * 60) } throws: { if case .expired = $0 as? SigV4Error { true } else { false } }
    }

    @Test func theSigningKeyChainMatchesAWSsDocumentedExample() {
        // AWS's documented example (IAM ListUsers, GET): the string to sign and signature.
        let auth = SigV4.Authorization(accessKey: "AKIDEXAMPLE", date: "20150830", region: "us-east-1", service: "iam",
                                       signedHeaders: ["content-type", "host", "x-amz-date"], signature: String(repeating: "0", count: 64),
                                       amzDate: "20150830T123600Z", expires: nil)
        let request = SignedRequest(method: "GET", path: "/", query: "Action=ListUsers&Version=2010-05-08", headers: [
            ("Host", "iam.amazonaws.com"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("X-Amz-Date", "20150830T123600Z"),
        ])
        let canonical = SigV4.canonicalRequest(request, auth: auth, payloadHash: Digests.sha256Hex([UInt8]()), encodePath: true)
        #expect(Digests.sha256Hex(Array(canonical.utf8)) == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
        let signature = SigV4.signature(secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", auth: auth,
                                        stringToSign: SigV4.stringToSign(canonical, auth: auth))
        #expect(signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    }

    @Test func malformedSignaturesAreIncompleteNotCrashes() {
        func auth(_ header: String) -> SignedRequest {
            SignedRequest(method: "POST", path: "/", query: "", headers: [("Host", "h"), ("X-Amz-Date", "20261125T091811Z"),
                                                                          ("Authorization", header)])
        }
        for header in ["AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=a/b", "Basic abc",
                       "AWS4-HMAC-SHA256 Credential=AK/20261125/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=zz",
                       "AWS4-HMAC-SHA256 Credential=AK/2026/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + String(repeating: "a", count: 64),
                       "AWS4-HMAC-SHA256 Credential=AK/20261125/us-east-1/ec2/aws4_request, SignedHeaders=x-amz-date, Signature=" + String(repeating: "a", count: 64)] {
            #expect(throws: SigV4Error.self, "\(header)") { _ = try SigV4.authorization(of: auth(header)) }
        }
        #expect(throws: SigV4Error.missing) { _ = try SigV4.authorization(of: SignedRequest(method: "GET", path: "/", query: "", headers: [])) }
        #expect(SigV4.time("20261399T000000Z") == nil)
        #expect(SigV4.time("2026112T5091811Z") == nil)
    }
}
