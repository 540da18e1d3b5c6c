import NimbusCore

/// What one storage node needs to know: where its devices are, where to listen, the cluster's
/// hash secrets and where the rings live.
public struct StorageNodeConfig: Sendable, Codable {
    /// Directory holding one sub-directory per device.
    public var devicesRoot: String
    /// Device names served by this node.
    public var devices: [String]
    public var host: String
    public var port: Int
    public var hashPath: HashPathConfig
    /// Directory with `account.ring.json`, `container.ring.json`, `object.ring.json`.
    public var ringDirectory: String
    /// Seconds between container usage reports to the account servers.
    public var containerReportInterval: Double = 1.0
    /// Seconds to wait for a container/account server during an update.
    public var updateTimeout: Double = 3.0
    /// Seconds between passes of the object expirer.
    public var expirerInterval: Double = 30.0

    public init(devicesRoot: String, devices: [String], host: String, port: Int, hashPath: HashPathConfig, ringDirectory: String) {
        self.devicesRoot = devicesRoot
        self.devices = devices
        self.host = host
        self.port = port
        self.hashPath = hashPath
        self.ringDirectory = ringDirectory
    }

    enum CodingKeys: String, CodingKey {
        case devicesRoot, devices, host, port, hashPath, ringDirectory, containerReportInterval, updateTimeout, expirerInterval
    }

    /// Decodes a config file; the intervals and timeouts are optional.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        devicesRoot = try c.decode(String.self, forKey: .devicesRoot)
        devices = try c.decode([String].self, forKey: .devices)
        host = try c.decode(String.self, forKey: .host)
        port = try c.decode(Int.self, forKey: .port)
        hashPath = try c.decode(HashPathConfig.self, forKey: .hashPath)
        ringDirectory = try c.decode(String.self, forKey: .ringDirectory)
        containerReportInterval = try c.decodeIfPresent(Double.self, forKey: .containerReportInterval) ?? containerReportInterval
        updateTimeout = try c.decodeIfPresent(Double.self, forKey: .updateTimeout) ?? updateTimeout
        expirerInterval = try c.decodeIfPresent(Double.self, forKey: .expirerInterval) ?? expirerInterval
    }
}
