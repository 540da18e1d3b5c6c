/// An instance type: memory, vCPUs and disk (Nova's flavors; EC2's `InstanceType`).
public struct Flavor: Sendable, Equatable, Codable {
    public var name: String
    public var memoryMiB: Int
    public var vcpus: Int
    public var diskGiB: Int

    public init(name: String, memoryMiB: Int, vcpus: Int, diskGiB: Int) {
        self.name = name
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.diskGiB = diskGiB
    }

    /// Nova's classic flavors; `m1.small` is the default type.
    public static let classics: [Flavor] = [
        Flavor(name: "m1.tiny", memoryMiB: 512, vcpus: 1, diskGiB: 1),
        Flavor(name: "m1.small", memoryMiB: 2048, vcpus: 1, diskGiB: 20),
        Flavor(name: "m1.medium", memoryMiB: 4096, vcpus: 2, diskGiB: 40),
        Flavor(name: "m1.large", memoryMiB: 8192, vcpus: 4, diskGiB: 80),
        Flavor(name: "m1.xlarge", memoryMiB: 16384, vcpus: 8, diskGiB: 160),
    ]

    public static let defaultName = "m1.small"
}
