import ControlPlane
import Digest
import Foundation
import NimbusCore

/// The compute part of `nimbus aio --compute`: the EC2 API's port, region, floating range and
/// image size limit.
public struct AIOCompute: Sendable {
    public var port: Int
    public var region = "nimbus"
    public var floatingRange = "203.0.113.0/26"
    public var addressQuota = 5
    public var maxImageSize: Int64?
    /// The fixed network instances get addresses from.
    public var fixedRange = "10.77.0.0/24"
    /// libvirt for the compute worker (`test:///default`: the test driver, no VMs).
    public var libvirtURI = "qemu:///system"
    /// The bridge the network worker owns; nil: no network worker (instances get no NIC).
    public var bridge: String?
    /// Prefix of domain names and firewall chains (two clouds on one host never collide).
    public var prefix = "nimbus"
    /// Where floating addresses are added (nil: they are routed to this host).
    public var publicInterface: String?
    /// Capacity the compute worker offers (nil: the machine's).
    public var vcpus: Int?
    public var memoryMiB: Int?

    public init(port: Int) { self.port = port }

    /// Store, keys and endpoints of the all-in-one cloud's control plane.
    public static func controlDirectory(_ dataDir: String) -> String { "\(dataDir)/control" }
}

/// The image service's own object-store login in an all-in-one cloud (account `nimbus_images`,
/// a random key kept owner-only in the control directory).
public struct AIOServiceUser: Sendable, Codable {
    public var account: String
    public var user: String
    public var key: String

    public static func load(directory: String) throws -> AIOServiceUser {
        let path = "\(directory)/service.json"
        if let data = FileManager.default.contents(atPath: path) { return try JSONDecoder().decode(AIOServiceUser.self, from: data) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let user = AIOServiceUser(account: "nimbus_images", user: "registry", key: Hex.encode(Digests.randomBytes(20)))
        try AtomicFile.write(try JSONEncoder().encode(user), to: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return user
    }
}
