import NIOConcurrencyHelpers
import NimbusCore

/// What the proxy needs to know about a container before writing into it.
struct ContainerInfo: Sendable {
    let exists: Bool
    let objectCount: Int64
    let bytesUsed: Int64
    let headers: [(String, String)]
    let read: String?
    let write: String?
}

/// What the proxy knows of an account: its stored headers (metadata, ACL, usage).
struct AccountInfo: Sendable {
    let headers: [(String, String)]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    var acl: AccountACL { AccountACL(stored: header("x-account-access-control")) }
}

/// A short-lived cache of account and container lookups (OpenStack Swift keeps these in
/// memcache for `recheck_container_existence` seconds), so object PUTs do not HEAD the
/// container and container PUTs do not HEAD the account each time.
final class InfoCache<Value: Sendable>: Sendable {
    private let ttl: Double
    private let clock: any WallClock
    private let entries = NIOLockedValueBox([String: (Value, Double)]())

    init(ttl: Double, clock: any WallClock) {
        self.ttl = ttl
        self.clock = clock
    }

    func get(_ key: String) -> Value? {
        let now = clock.now()
        return entries.withLockedValue { e in
            guard let (info, until) = e[key], until > now else { return nil }
            return info
        }
    }

    func set(_ key: String, _ info: Value) {
        let until = clock.now() + ttl
        entries.withLockedValue { e in
            if e.count > 100_000 { e.removeAll() }
            e[key] = (info, until)
        }
    }

    func invalidate(_ key: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: key) }
    }
}
