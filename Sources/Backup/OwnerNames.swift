import Foundation

/// User and group names by id and ids by name, each looked up once (every member header
/// carries the names, every restored file maps them back, and each lookup reads the
/// account databases).
final class OwnerNames: @unchecked Sendable {  // the caches are only touched under `lock`
    static let shared = OwnerNames()
    private let lock = NSLock()
    private var users: [Int: String] = [:]
    private var groups: [Int: String] = [:]
    private var uids: [String: uid_t?] = [:]
    private var gids: [String: gid_t?] = [:]

    func user(_ uid: Int) -> String {
        cached(\.users, uid) { getpwuid(uid_t(uid)).map { String(cString: $0.pointee.pw_name) } ?? "" }
    }

    func group(_ gid: Int) -> String {
        cached(\.groups, gid) { getgrgid(gid_t(gid)).map { String(cString: $0.pointee.gr_name) } ?? "" }
    }

    /// The local id of a user name (restores map names, as tar does).
    func uid(named name: String) -> uid_t? {
        cached(\.uids, name) { getpwnam(name).map { $0.pointee.pw_uid } }
    }

    func gid(named name: String) -> gid_t? {
        cached(\.gids, name) { getgrnam(name).map { $0.pointee.gr_gid } }
    }

    private func cached<Key: Hashable, Value>(_ table: ReferenceWritableKeyPath<OwnerNames, [Key: Value]>, _ key: Key,
                                              _ lookup: () -> Value) -> Value {
        lock.withLock {
            if let value = self[keyPath: table][key] { return value }
            let value = lookup()
            self[keyPath: table][key] = value
            return value
        }
    }
}
