import ControlPlane
import Logging
import CloudNetwork

/// What the EC2 API serves beyond its credentials: the region and zones it names, the floating
/// address pool, and the image registry (nil when this API does not register images).
public struct EC2Settings: Sendable {
    public var region: String
    public var zones: [String]
    /// Floating (public) addresses AllocateAddress hands out, lowest first.
    public var floatingPool: [String]
    /// Floating addresses a project may hold (EC2's default limit is 5; Nova's quota was 10).
    public var addressQuota = 5
    public var registrar: ImageRegistrar?
    /// Instances (nil when this API does not run them).
    public var compute: ComputeSettings?
    /// Reads instances' consoles from their compute hosts.
    public var consoles = ConsoleClient()
    /// What credentials bundles are issued with (the admin API's GenerateX509ForUser); nil:
    /// this API issues none.
    public var credentials: CredentialsIssuing?

    public init(region: String, zones: [String], floatingPool: [String] = [], registrar: ImageRegistrar? = nil,
                compute: ComputeSettings? = nil) {
        self.region = region
        self.zones = zones
        self.floatingPool = floatingPool
        self.registrar = registrar
        self.compute = compute
    }

    /// The usable host addresses of an IPv4 CIDR (network and broadcast excluded below /31),
    /// at most 65536; nil when malformed.
    public static func addresses(inCIDR cidr: String) -> [String]? {
        guard let block = IPv4Network(cidr), block.prefix >= 16 else { return nil }
        return block.hosts.map(\.description)
    }
}

/// The cloud's key and certificate and its recorded endpoints, for issuing credentials bundles.
public struct CredentialsIssuing: Sendable {
    public var authority: CloudAuthority
    public var endpoints: CloudEndpoints

    public init(authority: CloudAuthority, endpoints: CloudEndpoints) {
        self.authority = authority
        self.endpoints = endpoints
    }
}

/// One call being run: the request, who made it (user and project), and the service's parts.
struct EC2Call: Sendable {
    let request: EC2Request
    let caller: EC2Credential
    let endpoint: String
    let settings: EC2Settings
    let store: any ControlPlaneStore
    let logger: Logger

    var project: String { caller.project }
}
