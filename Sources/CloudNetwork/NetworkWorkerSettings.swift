import Foundation

/// `nimbus network worker`'s settings file (as `nimbus aio --compute` writes it).
public struct NetworkWorkerSettings: Sendable, Codable {
    public var controlDirectory: String
    public var bridge: String
    /// The fixed network (IPv4 CIDR); its first host address is the bridge's (gateway, DHCP, metadata).
    public var fixedRange: String
    public var stateDirectory: String
    public var prefix: String = "nimbus"
    public var metadataPort: Int = 8775
    public var leaseSeconds: Int = 120
    public var publicInterface: String?

    public init(controlDirectory: String, bridge: String, fixedRange: String, stateDirectory: String) {
        self.controlDirectory = controlDirectory
        self.bridge = bridge
        self.fixedRange = fixedRange
        self.stateDirectory = stateDirectory
    }

    /// The network and its gateway (first host address) for a fixed range.
    public static func network(_ cidr: String) throws -> (network: IPv4Network, gateway: IPv4Address) {
        guard let network = IPv4Network(cidr), network.prefix >= 16, network.prefix <= 29, let gateway = network.hosts.first else {
            throw NetworkError("the fixed range must be an IPv4 network CIDR of /16 to /29, not \(cidr)")
        }
        return (network, gateway)
    }

    public func workerConfig() throws -> NetworkWorker.Config {
        let (network, gateway) = try Self.network(fixedRange)
        var c = NetworkWorker.Config(bridge: bridge, network: network, gateway: gateway, stateDirectory: stateDirectory, prefix: prefix)
        c.metadataPort = metadataPort
        c.leaseSeconds = leaseSeconds
        if let publicInterface { c.publicInterface = publicInterface }
        return c
    }
}
