import Digest
import Foundation

/// AWS Signature Version 2, as older EC2 clients (euca2ools, boto 2) sign Query API calls:
/// `AWSAccessKeyId`, `SignatureVersion=2`, `SignatureMethod` (HmacSHA256 or HmacSHA1),
/// `Timestamp` or `Expires`, and a base64 `Signature` of
/// `METHOD\nhost\npath\nsorted, RFC 3986-encoded parameters`.
public enum SigV2 {
    public struct Authorization: Sendable, Equatable {
        public var accessKey: String
        public var signature: String
        public var algorithm: DigestAlgorithm
        /// Seconds since the epoch: the request's time, or when it expires.
        public var time: Double
        public var isExpiry: Bool
    }

    /// Whether the parameters carry a SigV2 signature (rather than SigV4's header or query).
    public static func isSigned(_ params: [(String, String)]) -> Bool {
        params.contains { $0.0 == "SignatureVersion" } || (params.contains { $0.0 == "Signature" } && params.contains { $0.0 == "AWSAccessKeyId" })
    }

    /// Reads the signature parameters.
    public static func authorization(_ params: [(String, String)]) throws(SigV4Error) -> Authorization {
        func p(_ k: String) -> String? { params.first { $0.0 == k }?.1 }
        guard p("SignatureVersion") == "2" else { throw .incomplete("SignatureVersion must be 2 (or sign with Signature Version 4)") }
        guard let key = p("AWSAccessKeyId"), !key.isEmpty, let signature = p("Signature"), !signature.isEmpty else {
            throw .incomplete("AWSAccessKeyId and Signature are required")
        }
        let algorithm: DigestAlgorithm
        switch p("SignatureMethod") {
        case "HmacSHA256": algorithm = .sha256
        case "HmacSHA1": algorithm = .sha1
        default: throw .incomplete("SignatureMethod must be HmacSHA256 or HmacSHA1")
        }
        if let stamp = p("Timestamp") {
            guard p("Expires") == nil else { throw .incomplete("give Timestamp or Expires, not both") }
            guard let t = parseTime(stamp) else { throw .incomplete("Timestamp '\(stamp)' is not an ISO 8601 time") }
            return Authorization(accessKey: key, signature: signature, algorithm: algorithm, time: t, isExpiry: false)
        }
        guard let stamp = p("Expires"), let t = parseTime(stamp) else { throw .incomplete("Timestamp or Expires is required") }
        return Authorization(accessKey: key, signature: signature, algorithm: algorithm, time: t, isExpiry: true)
    }

    /// `yyyy-MM-ddTHH:mm:ss` with optional fraction and `Z` (a time without zone is UTC).
    static func parseTime(_ text: String) -> Double? {
        var s = Substring(text)
        if s.hasSuffix("Z") { s = s.dropLast() } else if s.hasSuffix("+00:00") { s = s.dropLast(6) }
        if let dot = s.firstIndex(of: ".") {
            guard s[s.index(after: dot)...].allSatisfy(\.isNumber) else { return nil }
            s = s[..<dot]
        }
        guard s.count == 19 else { return nil }
        return SigV4.time(s.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "") + "Z")
    }

    public static func stringToSign(method: String, host: String, path: String, params: [(String, String)]) -> String {
        var pairs: [(key: String, value: String)] = []
        for (k, v) in params where k != "Signature" { pairs.append((FormDecoding.encode(k), FormDecoding.encode(v))) }
        pairs.sort { (a: (key: String, value: String), b: (key: String, value: String)) -> Bool in
            a.key == b.key ? a.value < b.value : a.key < b.key
        }
        let canonical = pairs.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        return [method, host.lowercased(), path.isEmpty ? "/" : path, canonical].joined(separator: "\n")
    }

    public static func signature(secret: String, algorithm: DigestAlgorithm, stringToSign: String) -> String {
        Data(Digests.hmac(algorithm, key: Array(secret.utf8), message: Array(stringToSign.utf8))).base64EncodedString()
    }

    /// Checks the signature (constant time) and the time: a timestamp within the allowed skew,
    /// or an expiry still ahead.
    public static func verify(method: String, host: String, path: String, params: [(String, String)], auth: Authorization, secret: String,
                              now: Double) throws(SigV4Error) {
        if auth.isExpiry {
            guard now < auth.time else { throw .expired("Request has expired") }
            // A far-off expiry would let a captured request be replayed for that long.
            guard auth.time - now <= SigV4.allowedSkew else { throw .expired("Expires may be at most 15 minutes ahead") }
        } else {
            guard abs(now - auth.time) <= SigV4.allowedSkew else {
                throw .expired("Request timestamp is more than 15 minutes from the server's time")
            }
        }
        let expected = signature(secret: secret, algorithm: auth.algorithm,
                                 stringToSign: stringToSign(method: method, host: host, path: path, params: params))
        guard Digests.constantTimeEqual(Array(expected.utf8), Array(auth.signature.utf8)) else { throw .mismatch }
    }
}
