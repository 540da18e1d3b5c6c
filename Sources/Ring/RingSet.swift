/// The three rings of a cluster (one storage policy): accounts, containers, objects.
public struct RingSet: Sendable {
    public let account: Ring
    public let container: Ring
    public let object: Ring

    public init(account: Ring, container: Ring, object: Ring) {
        self.account = account
        self.container = container
        self.object = object
    }

    /// Loads `account.ring.json`, `container.ring.json` and `object.ring.json` from a directory.
    public static func load(directory: String) throws -> RingSet {
        RingSet(account: try Ring.load(from: "\(directory)/account.ring.json"),
                container: try Ring.load(from: "\(directory)/container.ring.json"),
                object: try Ring.load(from: "\(directory)/object.ring.json"))
    }
}
