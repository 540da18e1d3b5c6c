import Digest
import NIOConcurrencyHelpers
import NimbusCore

/// Who a valid token belongs to.
public struct Identity: Sendable, Equatable {
    public let account: String
    public let user: String
    public let storageAccount: String
    /// Groups for authorization: the configured ones plus `account`, `account:user` and, for
    /// admins, the storage account itself (as tempauth does).
    public let groups: Set<String>
    /// Set for a request signed by a temp URL: it may touch only this account (and container).
    public var tempURLScope: TempURLScope? = nil

    public var isResellerAdmin: Bool { groups.contains(".reseller_admin") }
    public var isAdmin: Bool { groups.contains(".admin") }
}

/// Where a temp URL's signature lets its request go: one account, or one container of it
/// (when the key was a container key).
public struct TempURLScope: Sendable, Equatable {
    public let account: String
    public let container: String?
}

/// Users kept outside the proxy's config — the control plane's project members, who reach
/// their project's account (`AUTH_<project>`) as `project:user` with their own key.
public protocol TempAuthUserSource: Sendable {
    /// The user, if `key` is theirs; nil otherwise.
    func user(account: String, user: String, key: String) async -> TempAuthUser?
    /// The secret behind an S3 access key and the user it signs for; nil when unknown.
    func s3Credentials(accessKey: String) async -> (secret: String, user: TempAuthUser)?
}

extension TempAuthUserSource {
    public func s3Credentials(accessKey: String) async -> (secret: String, user: TempAuthUser)? { nil }
}

/// OpenStack Swift's tempauth v1.0: users from config (and from an optional user source),
/// random tokens with a lifetime.
public final class TempAuthTokens: Sendable {
    private let users: [TempAuthUser]
    private let source: (any TempAuthUserSource)?
    private let tokenLife: Double
    private let clock: any WallClock
    private let tokens = NIOLockedValueBox([String: (Identity, Double)]())

    public init(users: [TempAuthUser], source: (any TempAuthUserSource)? = nil, tokenLife: Double, clock: any WallClock = SystemClock()) {
        self.users = users
        self.source = source
        self.tokenLife = tokenLife
        self.clock = clock
    }

    /// Checks `account:user` and key; returns a token (reused while valid) and its expiry.
    public func authenticate(user login: String, key: String) async -> (token: String, expires: Double, user: TempAuthUser)? {
        let parts = login.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let u: TempAuthUser
        if let configured = users.first(where: { $0.account == parts[0] && $0.user == parts[1] }) {
            guard Digests.constantTimeEqual(Array(configured.key.utf8), Array(key.utf8)) else { return nil }
            u = configured
        } else if !users.contains(where: { $0.account == parts[0] }),
                  // Accounts of configured users are theirs alone: a project of the same name gets no way in.
                  let found = await source?.user(account: String(parts[0]), user: String(parts[1]), key: key) {
            u = found
        } else {
            return nil
        }
        let now = clock.now()
        let identity = Self.identity(of: u)
        return tokens.withLockedValue { t in
            if let existing = t.first(where: { $0.value.0 == identity && $0.value.1 > now + 60 }) {
                return (existing.key, existing.value.1, u)
            }
            t = t.filter { $0.value.1 > now }
            let token = "AUTH_tk" + Hex.encode(Digests.randomBytes(16))
            let expires = now + tokenLife
            t[token] = (identity, expires)
            return (token, expires, u)
        }
    }

    /// A user's identity: its groups, plus `account`, `account:user` and, for admins, the
    /// storage account itself (as tempauth does).
    static func identity(of u: TempAuthUser) -> Identity {
        var groups = Set(u.groups)
        groups.insert(u.account)
        groups.insert("\(u.account):\(u.user)")
        if groups.contains(".admin") || groups.contains(".reseller_admin") { groups.insert(u.storageAccount) }
        return Identity(account: u.account, user: u.user, storageAccount: u.storageAccount, groups: groups)
    }

    /// The secret and identity behind an S3 access key: a configured user's `account:user`,
    /// whose secret is its key (as Swift's s3api maps tempauth users), else the user source's
    /// (the control plane's EC2 keys). Accounts of configured users stay theirs alone.
    public func s3Credentials(accessKey: String) async -> (secret: String, identity: Identity)? {
        let parts = accessKey.split(separator: ":", maxSplits: 1)
        if parts.count == 2, let u = users.first(where: { $0.account == parts[0] && $0.user == parts[1] }) {
            return (u.key, Self.identity(of: u))
        }
        guard let (secret, u) = await source?.s3Credentials(accessKey: accessKey),
              !users.contains(where: { $0.account == u.account }) else { return nil }
        return (secret, Self.identity(of: u))
    }

    /// The identity of a live token.
    public func validate(_ token: String) -> Identity? {
        let now = clock.now()
        return tokens.withLockedValue { t in
            guard let (identity, expires) = t[token] else { return nil }
            if expires <= now {
                t[token] = nil
                return nil
            }
            return identity
        }
    }

}
