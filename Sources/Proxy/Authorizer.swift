import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// The outcome of tempauth's `authorize` for one request.
struct Access: Sendable {
    /// Owner rights (`swift_owner`): may see and set ACLs and other owner-only headers.
    let isOwner: Bool
    /// The requester's groups (empty for anonymous requests).
    let groups: Set<String>
}

/// Decides who may do what, as OpenStack Swift's tempauth does: reseller admins and account
/// admins own an account; others need a container ACL (referrer or group) or an account ACL.
struct Authorizer {
    let context: ProxyContext

    /// Headers only owners may set or see.
    static let ownerHeaders: Set<String> = [
        "x-container-read", "x-container-write", "x-container-sync-key", "x-container-sync-to",
        "x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2", "x-container-meta-temp-url-key",
        "x-container-meta-temp-url-key-2", "x-account-access-control",
    ]

    /// Authorizes `method` on `path`; throws 401 (anonymous) or 403 (authenticated) when denied.
    func authorize(_ identity: Identity?, method: String, path: SwiftPath, referer: String?, txid: String) async throws -> Access {
        // tempauth is authoritative only for accounts under one of its reseller prefixes: a
        // path like `/v1/test` or `/v1/.admin` must not match a user's group names.
        guard let prefix = resellerPrefix(of: path.account) else { throw denied(identity, path: path) }
        if let scope = identity?.tempURLScope {
            // A temp URL reaches nothing outside the account (or container) its key belongs to.
            guard path.account == scope.account, scope.container == nil || scope.container == path.container else {
                throw HTTPError.standard(401)
            }
            return Access(isOwner: false, groups: [])
        }
        let groups = identity?.groups ?? []
        let dotAccount = path.account.utf8.dropFirst(prefix.utf8.count).first == UInt8(ascii: ".")
        if identity?.isResellerAdmin == true && path.account != prefix && !dotAccount {
            return Access(isOwner: true, groups: groups)
        }
        if groups.contains(path.account) && (!["PUT", "DELETE"].contains(method) || path.container != nil) {
            return Access(isOwner: true, groups: groups)
        }
        if method == "OPTIONS" { return Access(isOwner: false, groups: groups) }

        if let container = path.container {
            let info = await context.containerInfo(account: path.account, container: container, txid: txid)
            let aclText: String?
            if path.object != nil {
                aclText = ["GET", "HEAD"].contains(method) ? info.read : info.write
            } else {
                aclText = ["GET", "HEAD"].contains(method) ? info.read : nil
            }
            if let acl = try? ContainerACL(aclText) {
                // Referrer rules only ever grant reads (a write ACL with one is refused when set).
                let reading = ["GET", "HEAD"].contains(method)
                if reading && acl.referrerAllowed(referer) && (path.object != nil || acl.groups.contains(".rlistings")) {
                    return Access(isOwner: false, groups: groups)
                }
                if !groups.isDisjoint(with: acl.groups) { return Access(isOwner: false, groups: groups) }
            }
        }

        if !groups.isEmpty, let acl = await accountACL(path.account, txid: txid) {
            if !groups.isDisjoint(with: acl.admin) { return Access(isOwner: true, groups: groups) }
            if !groups.isDisjoint(with: acl.readWrite) && (path.container != nil || ["GET", "HEAD"].contains(method)) {
                return Access(isOwner: false, groups: groups)
            }
            if !groups.isDisjoint(with: acl.readOnly) && ["GET", "HEAD"].contains(method) {
                return Access(isOwner: false, groups: groups)
            }
        }
        throw denied(identity, path: path)
    }

    /// 401 for anonymous requests, 403 for authenticated ones.
    private func denied(_ identity: Identity?, path: SwiftPath) -> HTTPError {
        if identity == nil {
            return HTTPError.standard(401, headers: [("WWW-Authenticate", "Swift realm=\"\(PercentCoding.encodePath(path.account))\"")])
        }
        return HTTPError.forbidden
    }

    /// The reseller prefix `account` starts with (the longest non-empty one first; "" when
    /// a user has an empty prefix), nil when none.
    func resellerPrefix(of account: String) -> String? {
        let prefixes = Set(context.config.users.map(\.resellerPrefix))
        if let p = prefixes.filter({ !$0.isEmpty && account.hasPrefix($0) }).max(by: { $0.count < $1.count }) { return p }
        return prefixes.contains("") ? "" : nil
    }

    /// The account's ACL (cached with the account lookups).
    func accountACL(_ account: String, txid: String) async -> AccountACL? {
        await context.accountInfo(account, txid: txid)?.acl
    }
}

extension HTTPHeaders {
    /// Removes the owner-only headers (for non-owners, in both directions).
    mutating func removeOwnerHeaders() {
        for name in Authorizer.ownerHeaders { remove(name: name) }
    }
}
