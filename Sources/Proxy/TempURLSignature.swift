import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Temporary URLs (Swift's `tempurl`): an object request carrying `temp_url_sig` and
/// `temp_url_expires` is allowed without a token when the signature is the HMAC, under one of
/// the account's or container's `Temp-URL-Key`s, of `METHOD\nEXPIRES\nPATH`.
struct TempURLSignature {
    /// Methods a temp URL may be signed for.
    static let methods: Set<String> = ["GET", "HEAD", "PUT", "POST", "DELETE"]
    static let digests: [String: DigestAlgorithm] = ["sha1": .sha1, "sha256": .sha256, "sha512": .sha512]
    /// Headers a temp URL may not set on writes: it could otherwise reach other objects.
    static let disallowedHeaders = ["x-object-manifest", "x-symlink-target"]

    let signature: String
    /// Unix time; 0 when unparsable or past.
    let expires: Int64
    let prefix: String?
    let filename: String?
    let inline: Bool
    let ipRange: String?

    /// The temp URL parameters of a request; nil when it has none.
    init?(query: [(String, String)], now: Double) {
        func value(_ k: String) -> String? { query.first { $0.0 == k }?.1 }
        let sig = value("temp_url_sig")
        let exp = value("temp_url_expires")
        guard sig != nil || exp != nil else { return nil }
        signature = sig ?? ""
        var expires: Int64 = 0
        if let exp {
            if let n = Int64(exp) {
                expires = n
            } else {
                let f = DateFormatter()
                f.locale = Locale(identifier: "en_US_POSIX")
                f.timeZone = TimeZone(identifier: "UTC")
                f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
                expires = f.date(from: exp).map { Int64($0.timeIntervalSince1970) } ?? 0
            }
        }
        self.expires = Double(expires) < now ? 0 : expires
        prefix = value("temp_url_prefix")
        filename = value("filename")
        inline = value("inline") != nil
        ipRange = value("temp_url_ip_range")
    }

    /// Checks the signature; answers the identity the request then acts as, or throws 401.
    func authorize(_ request: HTTPRequest, _ path: SwiftPath, context: ProxyContext) async throws -> Identity {
        guard !signature.isEmpty, expires > 0, Self.methods.contains(request.method),
              let container = path.container, let object = path.object, !object.isEmpty,
              let (algorithm, expected) = Self.parseSignature(signature) else { throw Self.invalid(request) }
        if let ipRange {
            guard IPRange(ipRange)?.contains(Self.host(request.remoteAddress)) == true else { throw Self.invalid(request) }
        }
        var keys: [(String, Bool)] = []
        if let account = await context.accountInfo(path.account, txid: request.transactionID) {
            for name in ["x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"] {
                if let k = account.header(name), !k.isEmpty { keys.append((k, false)) }
            }
        }
        let info = await context.containerInfo(account: path.account, container: container, txid: request.transactionID)
        for name in ["x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"] {
            if let k = info.headers.first(where: { $0.0.lowercased() == name })?.1, !k.isEmpty { keys.append((k, true)) }
        }
        guard !keys.isEmpty else { throw Self.invalid(request) }
        let signedPath: String
        if let prefix {
            guard NameBytes.hasPrefix(object, prefix) else { throw Self.invalid(request) }
            signedPath = "prefix:/v1/\(path.account)/\(container)/\(prefix)"
        } else {
            signedPath = "/v1/\(path.account)/\(container)/\(object)"
        }
        // A HEAD may use a URL signed for any method.
        let methods = request.method == "HEAD" ? ["HEAD", "GET", "POST", "PUT"] : [request.method]
        for method in methods {
            var message = ipRange.map { "ip=\($0)\n" } ?? ""
            message += "\(method)\n\(expires)\n\(signedPath)"
            for (key, containerScoped) in keys {
                let mac = Digests.hmac(algorithm, key: Array(key.utf8), message: Array(message.utf8))
                if Digests.constantTimeEqual(mac, expected) {
                    if !["GET", "HEAD"].contains(request.method) {
                        for h in Self.disallowedHeaders where request.header(h) != nil {
                            throw HTTPError.badRequest("The header '\(UserMetadata.titleCase(h))' is not allowed in this tempurl")
                        }
                    }
                    var id = Identity(account: path.account, user: ".wsgi.tempurl", storageAccount: path.account, groups: [])
                    id.tempURLScope = TempURLScope(account: path.account, container: containerScoped ? container : nil)
                    return id
                }
            }
        }
        throw Self.invalid(request)
    }

    /// What a temp URL response shows: no private metadata, and for downloads a
    /// Content-Disposition (attachment unless `inline`) and an Expires of the URL's expiry.
    func outgoing(_ response: HTTPResponse, request: HTTPRequest, path: SwiftPath) -> HTTPResponse {
        var r = response
        for (name, _) in r.headers {
            let l = name.lowercased()
            if l.hasPrefix("x-object-meta-") && !l.hasPrefix("x-object-meta-public-") { r.headers.remove(name: name) }
        }
        guard ["GET", "HEAD"].contains(request.method), (200..<300).contains(r.status) else { return r }
        let existing = r.headers.first(name: "content-disposition")
        r.headers.remove(name: "content-disposition")
        let disposition: String
        if inline {
            disposition = filename.map { Self.dispositionFormat("inline", $0) } ?? "inline"
        } else if let filename {
            disposition = Self.dispositionFormat("attachment", filename)
        } else if let existing {
            disposition = existing
        } else {
            let name = path.object ?? ""
            let base = NameBytes.split(NameBytes.trim(name)).last ?? name
            disposition = Self.dispositionFormat("attachment", base)
        }
        r.headers.add(name: "Content-Disposition", value: disposition.replacingOccurrences(of: "\n", with: "%0A"))
        r.headers.add(name: "Expires", value: HTTPDate.format(expires))
        return r
    }

    static func dispositionFormat(_ type: String, _ filename: String) -> String {
        let quoted = PercentCoding.encodePath(filename).replacingOccurrences(of: "%20", with: " ")
        return "\(type); filename=\"\(quoted)\"; filename*=UTF-8''\(PercentCoding.encodePath(filename))"
    }

    /// `<hex>` (the length names the digest) or `<digest>:<base64>`.
    static func parseSignature(_ sig: String) -> (DigestAlgorithm, [UInt8])? {
        if let colon = sig.firstIndex(of: ":") {
            guard let algorithm = digests[String(sig[..<colon])] else { return nil }
            var b64 = String(sig[sig.index(after: colon)...])
            if (b64.contains("-") || b64.contains("_")) && !(b64.contains("+") || b64.contains("/")) {
                b64 = b64.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            }
            guard let bytes = SLOManifestInput.strictBase64(b64) else { return nil }
            return (algorithm, bytes)
        }
        guard let bytes = Hex.decode(sig) else { return nil }
        switch bytes.count {
        case 20: return (.sha1, bytes)
        case 32: return (.sha256, bytes)
        case 64: return (.sha512, bytes)
        default: return nil
        }
    }

    static func invalid(_ request: HTTPRequest) -> HTTPError {
        HTTPError(401, request.method == "HEAD" ? "" : "401 Unauthorized: Temp URL invalid\n",
                  headers: [("Content-Type", "text/plain; charset=UTF-8")])
    }

    /// The address part of `host:port` / `[v6]:port`.
    static func host(_ remote: String) -> String {
        if remote.hasPrefix("["), let end = remote.firstIndex(of: "]") { return String(remote[remote.index(after: remote.startIndex)..<end]) }
        if remote.filter({ $0 == ":" }).count == 1, let colon = remote.lastIndex(of: ":") { return String(remote[..<colon]) }
        return remote
    }
}

/// An IPv4 or IPv6 network (`a.b.c.d/n`, or one address).
struct IPRange {
    let network: [UInt8]
    let bits: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let address = parts.first.flatMap({ IPRange.bytes(String($0)) }) else { return nil }
        let bits = parts.count == 2 ? Int(parts[1]) : address.count * 8
        guard let bits, bits >= 0, bits <= address.count * 8 else { return nil }
        network = address
        self.bits = bits
    }

    func contains(_ address: String) -> Bool {
        guard let a = IPRange.bytes(address), a.count == network.count else { return false }
        for i in 0..<network.count {
            let maskBits = min(8, max(0, bits - i * 8))
            let mask: UInt8 = maskBits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - maskBits))
            if a[i] & mask != network[i] & mask { return false }
        }
        return true
    }

    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
