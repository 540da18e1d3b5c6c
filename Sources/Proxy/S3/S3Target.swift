import HTTPServerKit
import NimbusCore

/// What an S3 request addresses: path-style (`/bucket/key`) or virtual-hosted-style
/// (`bucket.<storage domain>/key`), and its query (sub-resources such as `?uploads`, `?acl`).
struct S3Target: Sendable {
    let bucket: String?
    let key: String?
    /// Decoded query parameters; a sub-resource without a value maps to "".
    let query: [String: String]
    /// The path SigV2 signs: `/bucket/key` as sent, also for virtual-hosted requests.
    let resourcePath: String

    init(_ request: HTTPRequest, storageDomain: String?) throws(S3Error) {
        let host = (request.header("host") ?? "").split(separator: ":").first.map { $0.lowercased() } ?? ""
        var hostBucket: String?
        if let domain = storageDomain?.lowercased(), !domain.isEmpty, host.hasSuffix("." + domain) {
            let name = String(host.dropLast(domain.count + 1))
            guard !name.isEmpty else { throw S3Error("InvalidBucketName", "The specified bucket is not valid.", details: [("BucketName", "")]) }
            hostBucket = name
        }
        let rawPath = request.path
        let path: String
        do { path = try PercentCoding.decodeUTF8(rawPath) } catch {
            throw S3Error("InvalidURI", "Couldn't parse the specified URI.")
        }
        // By bytes: a key may start with a combining mark, which a Character "/" absorbs.
        let rest = NameBytes.hasPrefix(path, "/") ? NameBytes.dropPrefix(path, bytes: 1) : path
        if let hostBucket {
            bucket = hostBucket
            key = rest.isEmpty ? nil : String(rest)
            resourcePath = "/" + hostBucket + rawPath
        } else {
            let parts = NameBytes.split(rest, maxSplits: 1)
            bucket = parts.first.flatMap { $0.isEmpty ? nil : String($0) }
            key = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : nil
            resourcePath = rawPath
        }
        var q: [String: String] = [:]
        do {
            for (k, v) in try request.queryItems() where q[k] == nil { q[k] = v }
        } catch {
            throw S3Error("InvalidURI", "Couldn't parse the specified URI.")
        }
        query = q
    }

    /// S3's resource name for error documents.
    var resource: String { "/" + [bucket, key].compactMap { $0 }.joined(separator: "/") }

    /// Bucket names as S3 accepts them: 3–63 of a-z, 0-9, `.` and `-`, starting and ending with
    /// a letter or digit, no `..`, not shaped like an IP address.
    static func isValidBucketName(_ name: String) -> Bool {
        let b = Array(name.utf8)
        guard (3...63).contains(b.count) else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard let first = b.first, let last = b.last, alnum(first), alnum(last) else { return false }
        guard b.allSatisfy({ alnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else { return false }
        guard !name.contains(".."), !name.contains(".-"), !name.contains("-.") else { return false }
        let octets = name.split(separator: ".")
        if octets.count == 4, octets.allSatisfy({ $0.allSatisfy(\.isNumber) }) { return false }
        return true
    }
}
