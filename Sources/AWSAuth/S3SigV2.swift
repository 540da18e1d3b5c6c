import Digest
import Foundation

/// S3's Signature Version 2 (`Authorization: AWS key:signature`, or the query's
/// `AWSAccessKeyId`/`Signature`/`Expires`), as older S3 clients (s3cmd, boto 2) sign: HMAC-SHA1
/// over `METHOD\nContent-MD5\nContent-Type\nDate\n` + the `x-amz-*` headers + the resource.
public enum S3SigV2 {
    public struct Authorization: Sendable, Equatable {
        public var accessKey: String
        /// Base64 of the HMAC-SHA1.
        public var signature: String
        /// The query's `Expires` (seconds since the epoch); nil for a header signature.
        public var expires: Int64?
    }

    /// The sub-resources that are part of the signed resource, as S3 lists them.
    static let subresources: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy", "requestPayment",
        "response-cache-control", "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId",
        "versioning", "versions", "website",
    ]

    /// The signature a request carries, nil when it carries no SigV2 one.
    public static func authorization(of request: SignedRequest) throws(SigV4Error) -> Authorization? {
        if let header = request.header("authorization") {
            guard header.hasPrefix("AWS ") else { return nil }
            let credential = header.dropFirst(4)
            guard let colon = credential.lastIndex(of: ":"), colon > credential.startIndex else {
                throw .incomplete("Authorization must be 'AWS access-key:signature'")
            }
            return Authorization(accessKey: String(credential[..<colon]), signature: String(credential[credential.index(after: colon)...]),
                                 expires: nil)
        }
        let items = request.queryItems
        func q(_ k: String) -> String? { items.first { $0.0 == k }?.1 }
        guard let key = q("AWSAccessKeyId"), let signature = q("Signature") else { return nil }
        // Digits only, and before 2038 as S3's own check: a far-off time is a URL that never expires.
        guard let text = q("Expires"), !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let expires = Int64(text),
              expires <= Int64(Int32.max) else {
            throw .expired("Invalid date (should be seconds since epoch): \(q("Expires") ?? "")")
        }
        return Authorization(accessKey: key, signature: signature, expires: expires)
    }

    /// The string to sign. `path` is the request path as sent (with the bucket for
    /// virtual-hosted requests put in front by the caller).
    public static func stringToSign(_ request: SignedRequest, resourcePath: String, expires: Int64?) -> String {
        var amz: [(String, String)] = []
        for (name, value) in request.headers {
            let lower = name.lowercased()
            guard lower.hasPrefix("x-amz-") else { continue }
            amz.append((lower, value.trimmingCharacters(in: .whitespaces)))
        }
        var merged: [(String, String)] = []
        for (name, value) in amz.sorted(by: { $0.0 < $1.0 }) {
            if let last = merged.last, last.0 == name { merged[merged.count - 1].1 += "," + value } else { merged.append((name, value)) }
        }
        let date: String
        if let expires {
            date = String(expires)
        } else {
            // With x-amz-date the Date line is empty (the header is signed among the x-amz-*).
            date = request.header("x-amz-date") != nil ? "" : request.header("date") ?? ""
        }
        var resource = resourcePath
        let sub = request.queryItems.filter { subresources.contains($0.0) }.sorted { $0.0 < $1.0 }
        if !sub.isEmpty {
            resource += "?" + sub.map { $0.1.isEmpty ? $0.0 : "\($0.0)=\($0.1)" }.joined(separator: "&")
        }
        return [request.method, request.header("content-md5") ?? "", request.header("content-type") ?? "", date].joined(separator: "\n")
            + "\n" + merged.map { "\($0.0):\($0.1)\n" }.joined() + resource
    }

    /// Checks the signature (constant time) and, for a query signature, its expiry; a header
    /// signature's `Date`/`x-amz-date` must be within 15 minutes of ours.
    public static func verify(_ request: SignedRequest, auth: Authorization, resourcePath: String, secret: String,
                              now: Double) throws(SigV4Error) {
        if let expires = auth.expires {
            guard now <= Double(expires) else { throw .expired("Request has expired") }
        } else {
            let text = request.header("x-amz-date") ?? request.header("date")
            guard let text, let at = HTTPDateParsing.seconds(text), at >= 0 else {
                throw .incomplete("AWS authentication requires a valid Date or x-amz-date header")
            }
            guard abs(now - at) <= SigV4.allowedSkew else { throw .expired("The difference between the request time and the current time is too large.") }
        }
        let expected = SigV2.signature(secret: secret, algorithm: .sha1, stringToSign: stringToSign(request, resourcePath: resourcePath, expires: auth.expires))
        guard Digests.constantTimeEqual(Array(expected.utf8), Array(auth.signature.utf8)) else { throw .mismatch }
    }
}

/// The HTTP date formats S3 clients send (RFC 1123, with or without the weekday) and
/// `yyyymmddThhmmssZ`.
enum HTTPDateParsing {
    static func seconds(_ text: String) -> Double? {
        if let t = SigV4.time(text) { return t }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "dd MMM yyyy HH:mm:ss zzz", "EEE, dd MMM yyyy HH:mm:ss Z"] {
            formatter.dateFormat = format
            if let d = formatter.date(from: text) { return d.timeIntervalSince1970 }
        }
        return nil
    }
}
