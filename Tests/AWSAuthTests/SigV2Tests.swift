@testable import AWSAuth
import Testing

/// Signature Version 2 against AWS's documented example (General Reference, "Signature Version
/// 2 signing process": DescribeJobFlows, secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY).
@Suite struct SigV2Tests {
    static let params: [(String, String)] = [
        ("AWSAccessKeyId", "AKIAIOSFODNN7EXAMPLE"), ("Action", "DescribeJobFlows"), ("SignatureMethod", "HmacSHA256"),
        ("SignatureVersion", "2"), ("Timestamp", "2011-10-03T15:19:30"), ("Version", "2009-03-31"),
        ("Signature", "i91nKc4PWAt0JJIdXwz9HxZCJDdiy6cf/Mj6vPxyYIs="),
    ]
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let host = "elasticmapreduce.amazonaws.com"

    @Test func awsDocumentedExampleVerifies() throws {
        let auth = try SigV2.authorization(Self.params)
        #expect(auth.accessKey == "AKIAIOSFODNN7EXAMPLE" && auth.algorithm == .sha256)
        let now = try #require(SigV2.parseTime("2011-10-03T15:19:30Z"))
        try SigV2.verify(method: "GET", host: Self.host, path: "/", params: Self.params, auth: auth, secret: Self.secret, now: now + 60)
    }

    @Test func wrongSecretSkewAndAlteredParametersAreRefused() throws {
        let auth = try SigV2.authorization(Self.params)
        let now = try #require(SigV2.parseTime("2011-10-03T15:19:30Z"))
        #expect(throws: SigV4Error.mismatch) {
            try SigV2.verify(method: "GET", host: Self.host, path: "/", params: Self.params, auth: auth, secret: "wrong", now: now)
        }
        #expect(throws: SigV4Error.self) {
            try SigV2.verify(method: "GET", host: Self.host, path: "/", params: Self.params, auth: auth, secret: Self.secret, now: now + 16 * 60)
        }
        var altered = Self.params
        altered[1].1 = "TerminateJobFlows"
        #expect(throws: SigV4Error.mismatch) {
            try SigV2.verify(method: "GET", host: Self.host, path: "/", params: altered, auth: auth, secret: Self.secret, now: now)
        }
        #expect(throws: SigV4Error.mismatch) {
            try SigV2.verify(method: "POST", host: Self.host, path: "/", params: Self.params, auth: auth, secret: Self.secret, now: now)
        }
    }

    @Test func incompleteSignaturesSayWhatIsMissing() {
        for drop in ["SignatureMethod", "Timestamp", "AWSAccessKeyId", "Signature", "SignatureVersion"] {
            #expect(throws: SigV4Error.self, "\(drop)") { _ = try SigV2.authorization(Self.params.filter { $0.0 != drop }) }
        }
        #expect(SigV2.parseTime("2011-10-03T15:19:30.123Z") != nil && SigV2.parseTime("yesterday") == nil)
    }
}
