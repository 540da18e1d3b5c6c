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
    /// The control directory: store, sealing key, cloud key and certificate.
    public var controlDirectory: String
    /// The image registry (nil: RegisterImage is refused).
    public var registry: ImageRegistrar.Config?

    public init(controlDirectory: String) { self.controlDirectory = controlDirectory }

    enum CodingKeys: String, CodingKey { case host, port, region, zones, floatingRange, controlDirectory, registry }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        controlDirectory = try c.decode(String.self, forKey: .controlDirectory)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        region = try c.decodeIfPresent(String.self, forKey: .region) ?? region
        zones = try c.decodeIfPresent([String].self, forKey: .zones) ?? zones
        floatingRange = try c.decodeIfPresent(String.self, forKey: .floatingRange) ?? floatingRange
        registry = try c.decodeIfPresent(ImageRegistrar.Config.self, forKey: .registry)
    }

    /// The store: the control directory's (SQLite, or the PostgreSQL URL recorded there).
    public var database: String { ControlPlaneDatabase.location(controlDirectory: controlDirectory) }
    public var keyFile: String { (controlDirectory as NSString).appendingPathComponent("control.key") }
}
