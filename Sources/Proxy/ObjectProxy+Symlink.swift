import Foundation
import HTTPClientKit
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Symlinks, as Swift's `symlink` middleware offers them: a zero-byte object whose system
/// metadata names a target `container/object` (and account). GET and HEAD follow the link
/// (at most `symloopMax` hops); a static link also records the target's ETag and size and
/// fails (409) when the target no longer matches.
extension ObjectProxy {
    static let symlinkTarget = "X-Object-Sysmeta-Symlink-Target"
    static let symlinkTargetAccount = "X-Object-Sysmeta-Symlink-Target-Account"
    static let symlinkTargetETag = "X-Object-Sysmeta-Symlink-Target-Etag"
    static let symlinkTargetBytes = "X-Object-Sysmeta-Symlink-Target-Bytes"
    static let symloopExtend = "X-Object-Sysmeta-Symloop-Extend"
    static let symloopMax = 2
    static let emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

    /// A read after following symlinks: where it ended, and what was found there.
    struct ResolvedRead {
        let path: ObjectPath
        let read: SourceRead
        /// `/v1/<account>/<container>/<object>` of the last target, when a link was followed.
        let contentLocation: String?
    }

    /// Opens `path` for GET/HEAD, following symlinks with the requester's rights on each target.
    func openFollowingSymlinks(_ path: ObjectPath, method: String, headers: HTTPHeaders, referer: String?, txid: String,
                               follow: Bool = true, staticOnly: Bool = false, expectETag: String? = nil) async throws -> ResolvedRead {
        var current = path
        var loops = 0
        var targetETag = expectETag
        var location: String?
        while true {
            let read = await openRead(current, method: method, headers: headers)
            guard case .found(let head, let conn) = read, follow,
                  let target = head.headers.first(name: Self.symlinkTarget) else {
                if case .found(let head, let conn) = read, let targetETag, let etag = head.headers.first(name: "etag"),
                   etag.trimmingCharacters(in: ["\""]) != targetETag {
                    let found = etag.trimmingCharacters(in: ["\""])
                    _ = try? await conn.readFullBody()
                    context.client.release(conn)
                    throw HTTPError(409, "Object Etag '\(found)' does not match X-Symlink-Target-Etag header '\(targetETag)'",
                                    headers: [("Content-Type", "text/plain"), ("Content-Location", location ?? "")])
                }
                return ResolvedRead(path: current, read: read, contentLocation: location)
            }
            let linkETag = head.headers.first(name: Self.symlinkTargetETag)
            if staticOnly && linkETag == nil { return ResolvedRead(path: current, read: read, contentLocation: location) }
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            let found = linkETag ?? (head.headers.first(name: "etag") ?? "").trimmingCharacters(in: ["\""])
            if let targetETag, targetETag != found {
                throw HTTPError(409, "X-Symlink-Target-Etag headers do not match",
                                headers: [("Content-Type", "text/plain"), ("Content-Location", location ?? "")])
            }
            let symloopMax = context.scope?.symloopMax ?? Self.symloopMax
            if loops >= symloopMax {
                throw HTTPError(409, "Too many levels of symbolic links, maximum allowed is \(symloopMax)",
                                headers: [("Content-Type", "text/plain")])
            }
            let accountText = head.headers.first(name: Self.symlinkTargetAccount)
            let account = try accountText.map { try PercentCoding.decodeUTF8($0) } ?? current.account
            let (container, object) = try Self.splitCopyPath(target, header: "X-Symlink-Target")
            location = "/v1/\(accountText ?? PercentCoding.encodePath(current.account))/\(NameBytes.hasPrefix(target, "/") ? NameBytes.dropPrefix(target, bytes: 1) : target)"
            if !Self.isTrue(head.headers.first(name: Self.symloopExtend)) { loops += 1 }
            targetETag = linkETag
            current = ObjectPath(account: account, container: container, object: object)
            do {
                _ = try await Authorizer(context: context).authorize(identity, method: method, path: current, referer: referer, txid: txid)
            } catch let error as HTTPError {
                // The client still learns where the link points.
                throw HTTPError(error.status, error.reason, headers: error.headers + [("Content-Location", location!)])
            }
        }
    }

    static func isTrue(_ v: String?) -> Bool { ["true", "1", "yes", "on", "t", "y"].contains((v ?? "").lowercased()) }

    /// The client's view of a symlink's own metadata (`?symlink=get`).
    static func symlinkClientHeaders(_ headers: inout HTTPHeaders, backend: HTTPHeaders) {
        for (sys, user) in [(symlinkTarget, "X-Symlink-Target"), (symlinkTargetAccount, "X-Symlink-Target-Account"),
                            (symlinkTargetETag, "X-Symlink-Target-Etag"), (symlinkTargetBytes, "X-Symlink-Target-Bytes")] {
            if let v = backend.first(name: sys) { headers.replaceOrAdd(name: user, value: v) }
        }
    }

    /// PUT with `X-Symlink-Target`: checks the target (and, for a static link, that it exists
    /// with the given ETag) and stores a zero-byte object whose system metadata holds the link.
    func putSymlink(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse {
        if let length = request.contentLength, length != 0 {
            throw HTTPError(400, "Symlink requests require a zero byte body", headers: [("Content-Type", "text/plain")])
        }
        if request.contentLength == nil, let chunk = try await request.body.next(), chunk.readableBytes > 0 {
            throw HTTPError(400, "Symlink requests require a zero byte body", headers: [("Content-Type", "text/plain")])
        }
        return try await storeSymlink(path, headers: request.headers, referer: request.header("referer"), txid: request.transactionID)
    }

    /// Stores a symlink described by the `X-Symlink-Target*` entries of `clientHeaders`.
    func storeSymlink(_ path: ObjectPath, headers clientHeaders: HTTPHeaders, referer: String?, txid: String) async throws -> HTTPResponse {
        let form = "X-Symlink-Target header must be of the form <container name>/<object name>"
        let rawTarget = clientHeaders.first(name: "x-symlink-target") ?? ""
        let decoded = try PercentCoding.decodeUTF8(rawTarget)
        guard !NameBytes.hasPrefix(decoded, "/"), let (container, object) = NameBytes.splitOnce(decoded, "/"), !container.isEmpty,
              !object.isEmpty else {
            throw HTTPError(412, form, headers: [("Content-Type", "text/plain")])
        }
        var account = path.account
        var accountHeader: String?
        if let a = clientHeaders.first(name: "x-symlink-target-account") {
            let decodedAccount = try PercentCoding.decodeUTF8(a)
            if NameBytes.splitOnce(decodedAccount, "/") != nil {
                throw HTTPError(412, "Account name cannot contain slashes", headers: [("Content-Type", "text/plain")])
            }
            account = decodedAccount
            accountHeader = PercentCoding.encodePath(decodedAccount)
        }
        if account == path.account && container == path.container && object == path.object {
            throw HTTPError(400, "Symlink cannot target itself", headers: [("Content-Type", "text/plain")])
        }
        let targetText = PercentCoding.encodePath("\(container)/\(object)")
        var headers = clientHeaders
        for h in ["x-symlink-target", "x-symlink-target-account", "x-symlink-target-etag", "x-symlink-target-bytes", "etag"] {
            headers.remove(name: h)
        }
        var sysmeta = [(Self.symlinkTarget, targetText)]
        if let accountHeader { sysmeta.append((Self.symlinkTargetAccount, accountHeader)) }
        var override = Self.emptyMD5
        var overrideParams = "symlink_target=\(targetText)"
        if let accountHeader { overrideParams += "; symlink_target_account=\(accountHeader)" }
        let etag = clientHeaders.first(name: "x-symlink-target-etag")?.trimmingCharacters(in: ["\""])
        if let etag, etag.contains(where: { ";\"\\".contains($0) }) {
            throw HTTPError(400, "Bad X-Symlink-Target-Etag format", headers: [("Content-Type", "text/plain")])
        }
        if let etag, !etag.isEmpty {
            let target = ObjectPath(account: account, container: container, object: object)
            _ = try await Authorizer(context: context).authorize(identity, method: "HEAD", path: target, referer: referer, txid: txid)
            let resolved = try await openFollowingSymlinks(target, method: "HEAD", headers: context.backendHeaders(txid: txid),
                                                           referer: referer, txid: txid,
                                                           staticOnly: true, expectETag: etag)
            let location = resolved.contentLocation ?? "/v1/\(PercentCoding.encodePath(account))/\(targetText)"
            guard case .found(let head, let conn) = resolved.read else {
                throw HTTPError(409, "X-Symlink-Target does not exist",
                                headers: [("Content-Type", "text/plain"), ("Content-Location", location)])
            }
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            guard (200..<300).contains(Int(head.status.code)) else { throw HTTPError.standard(Int(head.status.code)) }
            let bytes = head.headers.first(name: Self.sloSizeHeader) ?? head.headers.first(name: "content-length") ?? "0"
            sysmeta += [(Self.symlinkTargetETag, etag), (Self.symlinkTargetBytes, bytes)]
            if let sloETag = head.headers.first(name: Self.sloETagHeader) { override += "; slo_etag=\(sloETag)" }
            overrideParams += "; symlink_target_etag=\(etag); symlink_target_bytes=\(bytes)"
            if (headers.first(name: "content-type") ?? "").isEmpty, let type = head.headers.first(name: "content-type") {
                headers.replaceOrAdd(name: "Content-Type", value: ContentTypeParams.clean(type))
            }
        } else if (headers.first(name: "content-type") ?? "").isEmpty {
            headers.replaceOrAdd(name: "Content-Type", value: "application/symlink")
        }
        sysmeta.append(("X-Object-Sysmeta-Container-Update-Override-Etag", "\(override); \(overrideParams)"))
        headers.replaceOrAdd(name: "Content-Length", value: "0")
        headers.remove(name: "transfer-encoding")
        return try await store(path, headers: headers, length: 0, txid: txid, sysmeta: sysmeta) { nil }
    }

    /// A POST that landed on a symlink is answered 307 with the target (metadata stays on the link).
    static func postedToSymlink(_ backendHeaders: HTTPHeaders, path: ObjectPath) -> HTTPResponse? {
        guard let target = backendHeaders.first(name: symlinkTarget) else { return nil }
        let account = backendHeaders.first(name: symlinkTargetAccount) ?? PercentCoding.encodePath(path.account)
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: "/v1/\(account)/\(target)")
        if let etag = backendHeaders.first(name: symlinkTargetETag) { headers.add(name: "X-Symlink-Target-Etag", value: etag) }
        headers.add(name: "Content-Type", value: "text/html; charset=UTF-8")
        let text = "The requested POST was applied to a symlink. POST directly to the target to apply requested metadata."
        return HTTPResponse(status: 307, headers: headers, body: .bytes(ByteBuffer(string: text)))
    }
}
