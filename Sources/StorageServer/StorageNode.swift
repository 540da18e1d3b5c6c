import Foundation
import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import NimbusCore
import ObjectStore
import Ring
import ServiceLifecycle

/// One storage node: the account, container and object servers on one port, plus the
/// background container reporter. Runs as a `Service` under swift-service-lifecycle.
public final class StorageNode: Service, Sendable {
    public let config: StorageNodeConfig
    private let server: HTTPServer
    private let pools: DevicePools
    private let client: BackendClient
    private let reporter: ContainerReporter
    private let background: Background
    private let logger: Logger

    /// The node's background work (Swift's replicators, updater, auditor, expirer daemons).
    struct Background: Sendable {
        let rings: RingWatcher
        let stats: NodeStats
        let expirer: ObjectExpirer
        let objectReplicator: ObjectReplicator
        let dbReplicator: DBReplicator
        let updater: ObjectUpdater
        let auditor: Auditor
    }

    /// The port the node listens on (the bound one when configured with 0).
    public var port: Int { server.port }

    private init(config: StorageNodeConfig, server: HTTPServer, pools: DevicePools, client: BackendClient,
                 reporter: ContainerReporter, background: Background, logger: Logger) {
        self.background = background
        self.config = config
        self.server = server
        self.pools = pools
        self.client = client
        self.reporter = reporter
        self.logger = logger
    }

    /// Prepares the devices (cleaning temp files of dead writes) and binds the port.
    public static func start(config: StorageNodeConfig, constraints: Constraints = Constraints(),
                             clock: any WallClock = SystemClock(), logger: Logger) async throws -> StorageNode {
        for device in config.devices {
            let path = "\(config.devicesRoot)/\(device)"
            try FileManager.default.createDirectory(atPath: "\(path)/tmp", withIntermediateDirectories: true)
            let removed = DeviceMaintenance.cleanTemp(devicePath: path)
            if removed > 0 { logger.notice("removed \(removed) temp files of interrupted writes on \(device)") }
            if config.objectVolumes {
                let (_, files, cut, damaged) = try VolumeStore.open(devicePath: path)
                logger.notice("volumes of \(device): \(files) files\(cut > 0 ? ", \(cut) bytes of unfinished records cut off" : "")")
                if damaged > 0 { logger.error("volumes of \(device): \(damaged) damaged bytes skipped (replication brings those files back)") }
            }
        }
        let paths = StoragePaths(devicesRoot: config.devicesRoot, hashPath: config.hashPath)
        let pools = DevicePools(devices: config.devices)
        let client = BackendClient()
        let timeout = TimeAmount.milliseconds(Int64(config.updateTimeout * 1000))
        let rings = RingWatcher(directory: config.ringDirectory)
        if rings.ring(.account) == nil { logger.warning("no account ring in \(config.ringDirectory): container usage will not be reported") }
        let stats = NodeStats()
        let reporter = ContainerReporter(client: client, rings: rings, pools: pools, timeout: timeout, clock: clock, logger: logger)
        let updater = ContainerUpdateSender(client: client, paths: paths, pools: pools, timeout: timeout, clock: clock, logger: logger)
        let handler = StorageHandler(
            objects: ObjectController(paths: paths, pools: pools, updater: updater,
                                      constraints: constraints, clock: clock, logger: logger),
            containers: ContainerController(paths: paths, pools: pools, reporter: reporter, rows: ContainerRowBatcher(pools: pools),
                                            constraints: constraints, clock: clock, logger: logger),
            accounts: AccountController(paths: paths, pools: pools, constraints: constraints, clock: clock),
            objectReplication: ObjectReplicationController(paths: paths, pools: pools, reclaimAge: config.reclaimAge, clock: clock),
            dbReplication: DBReplicationController(paths: paths, pools: pools, reporter: reporter, clock: clock),
            stats: stats, paths: paths, devices: Set(config.devices), rings: rings, pools: pools)
        let server = try await HTTPServer.bind(host: config.host, port: config.port, handler: handler, logger: logger, options: config.server)
        logger.notice("storage node listening on \(config.host):\(server.port), devices \(config.devices.joined(separator: ","))")
        let node = NodeIdentity(port: server.port, devices: Set(config.devices))
        let services = NodeServices(paths: paths, devices: config.devices, pools: pools, client: client, rings: rings, node: node,
                                    clock: clock, stats: stats, logger: logger)
        let background = Background(
            rings: rings, stats: stats,
            expirer: ObjectExpirer(env: services, updater: updater),
            objectReplicator: ObjectReplicator(env: services, reclaimAge: config.reclaimAge),
            dbReplicator: DBReplicator(env: services),
            updater: ObjectUpdater(env: services, timeout: timeout),
            auditor: Auditor(env: services, bytesPerSecond: config.auditorBytesPerSecond, filesPerSecond: config.auditorFilesPerSecond))
        return StorageNode(config: config, server: server, pools: pools, client: client, reporter: reporter, background: background,
                           logger: logger)
    }

    /// Serves until cancelled or gracefully shut down.
    public func run() async throws {
        let interval = Duration.milliseconds(Int64(config.containerReportInterval * 1000))
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.server.run() }
                group.addTask { await self.reporter.run(interval: interval) }
                let b = self.background
                let c = self.config
                group.addTask { await b.rings.watch(interval: Self.duration(c.ringCheckInterval)) }
                if c.backgroundDaemons { Self.addBackgroundDaemons(b, c, to: &group) }
                try await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.server.close()
        }
        await reporter.flush()
        client.shutdown()
        await pools.shutdown()
    }

    /// The daemons Swift's `startrest` would start: expirer, object and DB replicators,
    /// updater, auditor.
    private static func addBackgroundDaemons(_ b: Background, _ c: StorageNodeConfig, to group: inout ThrowingTaskGroup<Void, any Error>) {
        group.addTask { await b.expirer.run(interval: Self.duration(c.expirerInterval)) }
        group.addTask { await b.objectReplicator.run(interval: Self.duration(c.replicationInterval)) }
        group.addTask { await b.dbReplicator.run(interval: Self.duration(c.dbReplicationInterval)) }
        group.addTask { await b.updater.run(interval: Self.duration(c.updaterInterval)) }
        group.addTask {
            // The first audit waits one interval: a starting node has replication to do first.
            try? await Task.sleep(for: Self.duration(c.auditorInterval))
            await b.auditor.run(interval: Self.duration(c.auditorInterval))
        }
    }

    static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64(seconds * 1000)) }

    /// Runs one expirer pass now (tests and operators); answers how many objects were deleted.
    @discardableResult
    public func expireNow() async -> Int { await background.expirer.pass() }

    /// Objects the expirer deleted since start, by its periodic passes or `expireNow`.
    public func expiredTotal() async -> Int { await background.expirer.expired }

    /// Runs one object and one DB replication pass now; answers files and rows pushed.
    @discardableResult
    public func replicateNow() async -> (objects: Int, rows: Int, handoffsRemoved: Int) {
        let o = await background.objectReplicator.pass()
        let d = await background.dbReplicator.pass()
        return (o.pushed, d.pushed, o.handoffsRemoved + d.handoffsRemoved)
    }

    /// Runs one updater pass now; answers (delivered, still pending).
    @discardableResult
    public func updateNow() async -> (sent: Int, remaining: Int) { await background.updater.pass() }

    /// Runs one auditor pass now; answers (checked, quarantined).
    @discardableResult
    public func auditNow() async -> (checked: Int, quarantined: Int) { await background.auditor.pass() }

    /// Rereads changed ring files now.
    public func reloadRings() { background.rings.reload() }

    /// Stops accepting connections (tests use this to simulate a node going down).
    public func close() {
        server.close()
    }
}
