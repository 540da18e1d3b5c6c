import ControlPlane
import Foundation
import NimbusCore

/// Settings of `nimbus compute api` (a JSON file when `nimbus aio --compute` starts it).
public struct EC2APIConfig: Sendable, Codable {
    public var host = "127.0.0.1"
    /// Nova's EC2 API used 8773.
    public var port = 8773
    public var region = "nimbus"
    public var zones: [String] = []
    /// The floating address pool, as an IPv4 CIDR (/16 or smaller).
    public var floatingRange = "203.0.113.0/26"
    /// Floating addresses a project may hold.
    public var addressQuota = 5
    /// The control directory: store, sealing key, cloud key and certificate.
    public var controlDirectory: String
    /// The image registry (nil: RegisterImage is refused).
    public var registry: ImageRegistrar.Config?
    /// The fixed network instances get their private addresses from (IPv4 CIDR; its first
    /// address is the gateway's); nil: this API does not run instances.
    public var fixedRange: String?
    /// Seconds without a heartbeat after which a compute host is left out and its waiting
    /// instances fail.
    public var heartbeatTimeout: Double = 60

    public init(controlDirectory: String) { self.controlDirectory = controlDirectory }

    enum CodingKeys: String, CodingKey { case host, port, region, zones, floatingRange, addressQuota, controlDirectory, registry, fixedRange, heartbeatTimeout }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        controlDirectory = try c.decode(String.self, forKey: .controlDirectory)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        region = try c.decodeIfPresent(String.self, forKey: .region) ?? region
        zones = try c.decodeIfPresent([String].self, forKey: .zones) ?? zones
        floatingRange = try c.decodeIfPresent(String.self, forKey: .floatingRange) ?? floatingRange
        addressQuota = try c.decodeIfPresent(Int.self, forKey: .addressQuota) ?? addressQuota
        registry = try c.decodeIfPresent(ImageRegistrar.Config.self, forKey: .registry)
        fixedRange = try c.decodeIfPresent(String.self, forKey: .fixedRange)
        heartbeatTimeout = try c.decodeIfPresent(Double.self, forKey: .heartbeatTimeout) ?? heartbeatTimeout
    }

    /// The store: the control directory's (SQLite, or the PostgreSQL URL recorded there).
    public var database: String { ControlPlaneDatabase.location(controlDirectory: controlDirectory) }
    public var keyFile: String { (controlDirectory as NSString).appendingPathComponent("control.key") }
}
