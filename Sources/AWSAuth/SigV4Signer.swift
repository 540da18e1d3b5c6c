import Digest
import Foundation

/// Client side of SigV4, for Nimbus's own tools (`nimbus image register`) and tests: the
/// headers that sign a request as botocore signs it.
public enum SigV4Signer {
    /// `X-Amz-Date` and `Authorization` for a request whose signed headers are `headers` (with
    /// `Host`) and `X-Amz-Date`, and whose payload hash is `payloadHash` (the SHA-256 of the
    /// body, or a mode such as `UNSIGNED-PAYLOAD`).
    public static func headers(method: String, path: String, query: String = "", headers: [(String, String)], payloadHash: String,
                               accessKey: String, secret: String, region: String, service: String, now: Date = Date()) -> [(String, String)] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: now)
        let signed = (headers + [("X-Amz-Date", amzDate)]).sorted { $0.0.lowercased() < $1.0.lowercased() }
        let names = signed.map { $0.0.lowercased() }
        let request = SignedRequest(method: method, path: path, query: query, headers: signed)
        var auth = SigV4.Authorization(accessKey: accessKey, date: String(amzDate.prefix(8)), region: region, service: service,
                                       signedHeaders: names, signature: "", amzDate: amzDate, expires: nil)
        let canonical = SigV4.canonicalRequest(request, auth: auth, payloadHash: payloadHash, encodePath: service != "s3")
        auth.signature = SigV4.signature(secret: secret, auth: auth, stringToSign: SigV4.stringToSign(canonical, auth: auth))
        return [("X-Amz-Date", amzDate),
                ("Authorization", "\(SigV4.algorithm) Credential=\(accessKey)/\(auth.scope), SignedHeaders=\(names.joined(separator: ";")), Signature=\(auth.signature)")]
    }

    /// `X-Amz-Date` and `Authorization` for a POST of `body` to `host` (with its port) at `path`
    /// (`content-type;host;x-amz-date` signed, as botocore signs EC2 calls).
    public static func formPostHeaders(host: String, path: String, body: [UInt8], contentType: String, accessKey: String, secret: String,
                                       region: String, service: String, now: Date = Date()) -> [(String, String)] {
        headers(method: "POST", path: path, headers: [("Host", host), ("Content-Type", contentType)], payloadHash: Digests.sha256Hex(body),
                accessKey: accessKey, secret: secret, region: region, service: service, now: now)
    }
}
