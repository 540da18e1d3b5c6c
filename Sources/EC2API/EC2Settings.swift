import ControlPlane
import Logging

/// What the EC2 API serves beyond its credentials: the region and zones it names, the floating
/// address pool, and the image registry (nil when this API does not register images).
public struct EC2Settings: Sendable {
    public var region: String
    public var zones: [String]
    /// Floating (public) addresses AllocateAddress hands out, lowest first.
    public var floatingPool: [String]
    public var registrar: ImageRegistrar?

    public init(region: String, zones: [String], floatingPool: [String] = [], registrar: ImageRegistrar? = nil) {
        self.region = region
        self.zones = zones
        self.floatingPool = floatingPool
        self.registrar = registrar
    }

    /// The usable host addresses of an IPv4 CIDR (network and broadcast excluded below /31),
    /// at most 65536; nil when malformed.
    public static func addresses(inCIDR cidr: String) -> [String]? {
        guard let block = IPv4CIDR(cidr), block.prefix >= 16 else { return nil }
        let size = UInt32(1) << UInt32(32 - block.prefix)
        let hosts: ClosedRange<UInt32> = size <= 2 ? 0...(size - 1) : 1...(size - 2)
        return hosts.map { IPv4CIDR.format(block.network + $0) }
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

/// An IPv4 block `a.b.c.d/n`, strictly parsed (no host bits set).
struct IPv4CIDR: Equatable {
    let network: UInt32
    let prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), (0...32).contains(prefix), parts[1].allSatisfy(\.isNumber),
              let address = Self.parse(String(parts[0])) else { return nil }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefix)
        guard address & ~mask == 0 else { return nil }
        network = address
        self.prefix = prefix
    }

    static func parse(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for o in octets {
            guard !o.isEmpty, o.count <= 3, o.allSatisfy(\.isNumber), let n = UInt32(o), n <= 255 else { return nil }
            value = value << 8 | n
        }
        return value
    }

    static func format(_ v: UInt32) -> String { "\(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).\(v & 255)" }
}
