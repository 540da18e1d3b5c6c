import Digest
import Foundation

/// AWS Signature Version 4, checked on the server side: the `Authorization: AWS4-HMAC-SHA256 …`
/// header or the presigned query (`X-Amz-Algorithm`, `X-Amz-Credential`, …), the canonical
/// request, the string to sign and the HMAC key chain, as AWS documents them.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// Largest difference between the request's `X-Amz-Date` and our clock.
    public static let allowedSkew: Double = 15 * 60

    /// The signature a request carries.
    public struct Authorization: Sendable, Equatable {
        public var accessKey: String
        /// `yyyymmdd` of the credential scope.
        public var date: String
        public var region: String
        public var service: String
        public var signedHeaders: [String]
        /// 64 lowercase hex digits.
        public var signature: String
        /// `yyyymmddThhmmssZ`.
        public var amzDate: String
        /// Seconds a presigned URL stays valid (nil for a header signature).
        public var expires: Int?

        public var scope: String { "\(date)/\(region)/\(service)/aws4_request" }
        public var isPresigned: Bool { expires != nil }
    }

    /// Reads the signature of a request (header first, then the query).
    public static func authorization(of request: SignedRequest) throws(SigV4Error) -> Authorization {
        if let header = request.header("authorization") {
            return try parseHeader(header, amzDate: request.header("x-amz-date"))
        }
        let items = request.queryItems
        func q(_ k: String) -> String? { items.first { $0.0 == k }?.1 }
        guard let signature = q("X-Amz-Signature") else { throw .missing }
        guard q("X-Amz-Algorithm") == algorithm else { throw .incomplete("X-Amz-Algorithm must be \(algorithm)") }
        guard let credential = q("X-Amz-Credential"), let signed = q("X-Amz-SignedHeaders"), let date = q("X-Amz-Date") else {
            throw .incomplete("X-Amz-Credential, X-Amz-SignedHeaders and X-Amz-Date are required")
        }
        // A URL signed to expire before it was signed has expired (what AWS answers), not a malformed one.
        if let expires = q("X-Amz-Expires").flatMap({ Int($0) }), expires <= 0 { throw .expired("Request has expired") }
        if let expires = q("X-Amz-Expires").flatMap({ Int($0) }), expires > 604_800 {
            throw .expired("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds")
        }
        guard let expires = q("X-Amz-Expires").flatMap({ Int($0) }), (1...604_800).contains(expires) else {
            throw .incomplete("X-Amz-Expires must be between 1 and 604800 seconds")
        }
        return try build(credential: credential, signedHeaders: signed, signature: signature, amzDate: date, expires: expires)
    }

    static func parseHeader(_ header: String, amzDate: String?) throws(SigV4Error) -> Authorization {
        guard header.hasPrefix(algorithm + " ") else { throw .incomplete("Authorization must use \(algorithm)") }
        var fields: [String: String] = [:]
        for part in header.dropFirst(algorithm.count + 1).split(separator: ",") {
            // Spaces trimmed by hand: Foundation's CharacterSet trimming cost more than the
            // signature's HMACs on every S3 request.
            var field = part
            while let c = field.first, c == " " || c == "\t" { field = field.dropFirst() }
            while let c = field.last, c == " " || c == "\t" { field = field.dropLast() }
            let kv = field.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw .incomplete("malformed Authorization field '\(part)'") }
            fields[String(kv[0])] = String(kv[1])
        }
        guard let credential = fields["Credential"], let signed = fields["SignedHeaders"], let signature = fields["Signature"] else {
            throw .incomplete("Authorization needs Credential, SignedHeaders and Signature")
        }
        guard let amzDate else { throw .incomplete("X-Amz-Date header is required") }
        return try build(credential: credential, signedHeaders: signed, signature: signature, amzDate: amzDate, expires: nil)
    }

    private static func build(credential: String, signedHeaders: String, signature: String, amzDate: String,
                              expires: Int?) throws(SigV4Error) -> Authorization {
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard scope.count == 5, scope[4] == "aws4_request", !scope[0].isEmpty, scope[1].count == 8 else {
            throw .incomplete("Credential must be KEY/yyyymmdd/region/service/aws4_request")
        }
        let hex = signature.lowercased()
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .incomplete("Signature must be 64 hex digits")
        }
        let headers = signedHeaders.lowercased().split(separator: ";").map(String.init)
        guard !headers.isEmpty, headers.contains("host") else { throw .incomplete("SignedHeaders must include host") }
        guard amzDate.hasPrefix(String(scope[1])), time(amzDate) != nil else {
            throw .incomplete("X-Amz-Date \(amzDate) is not yyyymmddThhmmssZ of the credential's date")
        }
        return Authorization(accessKey: String(scope[0]), date: String(scope[1]), region: String(scope[2]), service: String(scope[3]),
                             signedHeaders: headers, signature: hex, amzDate: amzDate, expires: expires)
    }

    /// Checks `auth` against `request` with the key's `secret`.
    /// - Parameters:
    ///   - payloadHash: hex SHA-256 of the body (or `UNSIGNED-PAYLOAD`, or an S3 client's
    ///     `x-amz-content-sha256`).
    ///   - encodePath: false for S3 (the path is signed as sent), true for other services
    ///     (each segment URI-encoded once more).
    ///   - now: our clock, seconds since the epoch.
    ///   - signingKey: the scope's key derived from `secret`, when the caller keeps it (it
    ///     changes once a day per key and region).
    public static func verify(_ request: SignedRequest, auth: Authorization, secret: String, payloadHash: String,
                              encodePath: Bool, now: Double, signingKey: [UInt8]? = nil) throws(SigV4Error) {
        guard let signedAt = time(auth.amzDate) else { throw .incomplete("bad X-Amz-Date") }
        if let expires = auth.expires {
            if now > signedAt + Double(expires) { throw .expired("Request has expired") }
            if signedAt - now > allowedSkew { throw .expired("Request is not yet valid") }
        } else if abs(now - signedAt) > allowedSkew {
            throw .expired("Request timestamp \(auth.amzDate) is more than 15 minutes from the server time")
        }
        let canonical = canonicalRequest(request, auth: auth, payloadHash: payloadHash, encodePath: encodePath)
        let key = signingKey ?? self.signingKey(secret: secret, auth: auth)
        let expected = Hex.encode(Digests.hmac(.sha256, key: key, message: Array(stringToSign(canonical, auth: auth).utf8)))
        guard Digests.constantTimeEqual(Array(expected.utf8), Array(auth.signature.utf8)) else { throw .mismatch }
    }

    /// `METHOD\nURI\nQUERY\nHEADERS\nSIGNED\nPAYLOAD`.
    public static func canonicalRequest(_ request: SignedRequest, auth: Authorization, payloadHash: String, encodePath: Bool) -> String {
        let uri: String
        if request.path.isEmpty {
            uri = "/"
        } else if encodePath {
            uri = request.path.split(separator: "/", omittingEmptySubsequences: false).map { FormDecoding.encode($0) }
                .joined(separator: "/")
        } else {
            uri = request.path
        }
        var pairs: [(key: String, value: String)] = []
        for (key, value) in request.queryItems where key != "X-Amz-Signature" {
            pairs.append((FormDecoding.encode(key), FormDecoding.encode(value)))
        }
        pairs.sort { (a: (key: String, value: String), b: (key: String, value: String)) -> Bool in
            a.key == b.key ? a.value < b.value : a.key < b.key
        }
        let query = pairs.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        var headers = ""
        for name in auth.signedHeaders {
            let value = request.values(name).map { v in
                v.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            }.joined(separator: ",")
            headers += "\(name):\(value)\n"
        }
        return [request.method, uri, query, headers, auth.signedHeaders.joined(separator: ";"), payloadHash].joined(separator: "\n")
    }

    public static func stringToSign(_ canonicalRequest: String, auth: Authorization) -> String {
        [algorithm, auth.amzDate, auth.scope, Digests.sha256Hex(Array(canonicalRequest.utf8))].joined(separator: "\n")
    }

    /// The hex HMAC-SHA256 of `stringToSign` under the key derived from `secret` and the scope.
    public static func signature(secret: String, auth: Authorization, stringToSign: String) -> String {
        Hex.encode(Digests.hmac(.sha256, key: signingKey(secret: secret, auth: auth), message: Array(stringToSign.utf8)))
    }

    /// The key the scope derives from `secret`: HMACs of the date, region, service and `aws4_request`.
    public static func signingKey(secret: String, auth: Authorization) -> [UInt8] {
        var key = Array(("AWS4" + secret).utf8)
        for part in [auth.date, auth.region, auth.service, "aws4_request"] {
            key = Digests.hmac(.sha256, key: key, message: Array(part.utf8))
        }
        return key
    }

    /// Seconds since the epoch of `yyyymmddThhmmssZ`.
    public static func time(_ amzDate: String) -> Double? {
        let b = Array(amzDate.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func num(_ r: Range<Int>) -> Int32? {
            guard b[r].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int32(String(decoding: b[r], as: UTF8.self))
        }
        guard let y = num(0..<4), let mo = num(4..<6), let d = num(6..<8), let h = num(9..<11), let mi = num(11..<13),
              let s = num(13..<15), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        var t = tm()
        t.tm_year = y - 1900
        t.tm_mon = mo - 1
        t.tm_mday = d
        t.tm_hour = h
        t.tm_min = mi
        t.tm_sec = s
        return Double(timegm(&t))
    }
}
