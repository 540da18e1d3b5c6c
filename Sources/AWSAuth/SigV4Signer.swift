import Digest
import Foundation

/// Client side of SigV4, for Nimbus's own tools (`nimbus image register`): the headers that
/// sign a form POST as botocore signs EC2 calls (`content-type;host;x-amz-date`).
public enum SigV4Signer {
    /// `X-Amz-Date` and `Authorization` for a POST of `body` to `host` (with its port) at `path`.
    public static func formPostHeaders(host: String, path: String, body: [UInt8], contentType: String, accessKey: String, secret: String,
                                       region: String, service: String, now: Date = Date()) -> [(String, String)] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: now)
        let request = SignedRequest(method: "POST", path: path, query: "",
                                    headers: [("Host", host), ("Content-Type", contentType), ("X-Amz-Date", amzDate)])
        var auth = SigV4.Authorization(accessKey: accessKey, date: String(amzDate.prefix(8)), region: region, service: service,
                                       signedHeaders: ["content-type", "host", "x-amz-date"], signature: "", amzDate: amzDate, expires: nil)
        let canonical = SigV4.canonicalRequest(request, auth: auth, payloadHash: Digests.sha256Hex(body), encodePath: true)
        auth.signature = SigV4.signature(secret: secret, auth: auth, stringToSign: SigV4.stringToSign(canonical, auth: auth))
        return [("X-Amz-Date", amzDate),
                ("Authorization", "\(SigV4.algorithm) Credential=\(accessKey)/\(auth.scope), SignedHeaders=content-type;host;x-amz-date, Signature=\(auth.signature)")]
    }
}
