import HTTPServerKit
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
    /// Seconds between object replication passes.
    public var replicationInterval: Double = 30.0
    /// Seconds between container/account DB replication passes.
    public var dbReplicationInterval: Double = 30.0
    /// Seconds between passes of the object updater (async pendings).
    public var updaterInterval: Double = 30.0
    /// Seconds between auditor passes, and the auditor's reading limits.
    public var auditorInterval: Double = 300.0
    public var auditorBytesPerSecond: Double = 10 * 1024 * 1024
    public var auditorFilesPerSecond: Double = 20
    /// Seconds a tombstone is kept before it is reclaimed (Swift's `reclaim_age`, a week).
    public var reclaimAge: Double = 604_800
    /// Seconds between checks of the ring files for changes.
    public var ringCheckInterval: Double = 5
    /// Client timeout and connection limit of the node's HTTP server.
    public var server = HTTPServerOptions()
    /// Small object files (up to `VolumeStore.smallFileLimit`) packed into append-only volume
    /// files with group commit instead of one file each (the LOSF prototype; off by default).
    public var objectVolumes = false
    /// Runs the background daemons (replicators, updater, auditor, expirer) beside the server.
    /// Off only for a node started like Swift's SAIO `startmain` (servers only), e.g. to
    /// benchmark the servers against a SAIO started that way; container usage reports and the
    /// ring watcher run either way.
    public var backgroundDaemons = true

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
        case replicationInterval, dbReplicationInterval, updaterInterval, auditorInterval, auditorBytesPerSecond, auditorFilesPerSecond
        case reclaimAge, ringCheckInterval, server, objectVolumes, backgroundDaemons
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
        replicationInterval = try c.decodeIfPresent(Double.self, forKey: .replicationInterval) ?? replicationInterval
        dbReplicationInterval = try c.decodeIfPresent(Double.self, forKey: .dbReplicationInterval) ?? dbReplicationInterval
        updaterInterval = try c.decodeIfPresent(Double.self, forKey: .updaterInterval) ?? updaterInterval
        auditorInterval = try c.decodeIfPresent(Double.self, forKey: .auditorInterval) ?? auditorInterval
        auditorBytesPerSecond = try c.decodeIfPresent(Double.self, forKey: .auditorBytesPerSecond) ?? auditorBytesPerSecond
        auditorFilesPerSecond = try c.decodeIfPresent(Double.self, forKey: .auditorFilesPerSecond) ?? auditorFilesPerSecond
        reclaimAge = try c.decodeIfPresent(Double.self, forKey: .reclaimAge) ?? reclaimAge
        ringCheckInterval = try c.decodeIfPresent(Double.self, forKey: .ringCheckInterval) ?? ringCheckInterval
        objectVolumes = try c.decodeIfPresent(Bool.self, forKey: .objectVolumes) ?? objectVolumes
        backgroundDaemons = try c.decodeIfPresent(Bool.self, forKey: .backgroundDaemons) ?? backgroundDaemons
        server = try c.decodeIfPresent(HTTPServerOptions.self, forKey: .server) ?? server
    }
}
