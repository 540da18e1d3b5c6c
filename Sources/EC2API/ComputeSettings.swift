import Compute
import ControlPlane

/// What the EC2 API needs to launch instances: the instance types, the fixed-address range
/// instances get their private address from, and the limits.
public struct ComputeSettings: Sendable {
    public var flavors: [Flavor]
    /// Addresses instances may get, lowest first.
    public var fixedRange: [String]
    /// Addresses of the range never given to an instance (the gateway / DHCP server).
    public var reserved: Set<String>
    /// A host silent for longer is not scheduled on, and its waiting instances fail.
    public var heartbeatTimeout: Double = 60
    /// Instances a project may have that are not gone (EC2's default limit is 20).
    public var maxInstancesPerProject = 20
    /// Instances one RunInstances may ask for.
    public var maxPerRequest = 20

    public init(flavors: [Flavor] = Flavor.classics, fixedRange: [String], reserved: Set<String>) {
        self.flavors = flavors
        self.fixedRange = fixedRange
        self.reserved = reserved
    }
}
