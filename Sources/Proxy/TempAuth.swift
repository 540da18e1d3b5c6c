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

/// OpenStack Swift's tempauth v1.0: users from config, random tokens with a lifetime.
public final class TempAuth: Sendable {
    private let users: [TempAuthUser]
    private let tokenLife: Double
    private let clock: any WallClock
    private let tokens = NIOLockedValueBox([String: (Identity, Double)]())

    public init(users: [TempAuthUser], tokenLife: Double, clock: any WallClock = SystemClock()) {
        self.users = users
        self.tokenLife = tokenLife
        self.clock = clock
    }

    /// Checks `account:user` and key; returns a token (reused while valid) and its expiry.
    public func authenticate(user login: String, key: String) -> (token: String, expires: Double, user: TempAuthUser)? {
        let parts = login.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        guard let u = users.first(where: { $0.account == parts[0] && $0.user == parts[1] }),
              Digests.constantTimeEqual(Array(u.key.utf8), Array(key.utf8)) else { return nil }
        let now = clock.now()
        var groups = Set(u.groups)
        groups.insert(u.account)
        groups.insert("\(u.account):\(u.user)")
        if groups.contains(".admin") || groups.contains(".reseller_admin") { groups.insert(u.storageAccount) }
        let identity = Identity(account: u.account, user: u.user, storageAccount: u.storageAccount, groups: groups)
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
