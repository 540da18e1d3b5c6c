import Digest

/// The cluster-wide secrets mixed into every path hash, as `swift.conf`'s
/// `swift_hash_path_prefix` / `swift_hash_path_suffix`.
public struct HashPathConfig: Sendable, Codable, Equatable {
    public var prefix: String
    public var suffix: String

    public init(prefix: String, suffix: String) {
        self.prefix = prefix
        self.suffix = suffix
    }

    /// Raw MD5 of `prefix + "/account[/container[/object]]" + suffix`, as OpenStack Swift's `hash_path`.
    public func digest(account: String, container: String? = nil, object: String? = nil) -> [UInt8] {
        Digests.md5(prefix + "/" + Self.join(account, container, object) + suffix)
    }

    /// Lowercase hex of `digest`: the directory name of an object or database on disk.
    public func hash(account: String, container: String? = nil, object: String? = nil) -> String {
        Hex.encode(digest(account: account, container: container, object: object))
    }

    static func join(_ account: String, _ container: String?, _ object: String?) -> String {
        var s = account
        if let container {
            s += "/" + container
            if let object { s += "/" + object }
        }
        return s
    }
}
