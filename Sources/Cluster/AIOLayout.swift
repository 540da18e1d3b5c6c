import Foundation
import NimbusCore

/// The shape of an all-in-one cluster, as `ring/aio.json` describes it.
public struct AIOLayout: Codable, Sendable, Equatable {
    public var partPower: Int
    public var replicas: Int
    public var minPartHours: Int
    public var nodes: Int
    public var devicesPerNode: Int
    public var weight: Double
    /// Storage nodes pack small object files into volumes (`StorageNodeConfig.objectVolumes`);
    /// absent in layout files made before it (off).
    public var objectVolumes: Bool?

    public init(partPower: Int = 10, replicas: Int = 3, minPartHours: Int = 1, nodes: Int = 4, devicesPerNode: Int = 1,
                weight: Double = 100) {
        self.partPower = partPower
        self.replicas = replicas
        self.minPartHours = minPartHours
        self.nodes = nodes
        self.devicesPerNode = devicesPerNode
        self.weight = weight
    }

    /// The embedded default (the same as the shipped `ring/aio.json`).
    public static let standard = AIOLayout()

    /// Reads a layout file.
    public static func load(from path: String) throws -> AIOLayout {
        try JSONDecoder().decode(AIOLayout.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// What an all-in-one cluster remembers between starts (`<data-dir>/aio.json`): the ports its
/// nodes were given and the hash secrets, so a restart finds every object where it left it.
public struct AIOState: Codable, Sendable {
    public var layout: AIOLayout
    public var nodePorts: [Int]
    public var hashPath: HashPathConfig
}

/// The tempauth users OpenStack Swift's functional tests expect.
public enum AIOUsers {
    public static let all: [(account: String, user: String, key: String, groups: [String], prefix: String)] = [
        ("admin", "admin", "admin", [".admin", ".reseller_admin"], "AUTH_"),
        ("test", "tester", "testing", [".admin"], "AUTH_"),
        ("test", "tester2", "testing2", [".admin"], "AUTH_"),
        ("test", "tester3", "testing3", [], "AUTH_"),
        ("test2", "tester2", "testing2", [".admin"], "AUTH_"),
        ("test5", "tester5", "testing5", ["service"], "AUTH_"),
        ("test6", "tester6", "testing6", [".reseller_admin"], "AUTH_"),
    ]
}
