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
    private let expirer: ObjectExpirer
    private let logger: Logger

    /// The port the node listens on (the bound one when configured with 0).
    public var port: Int { server.port }

    private init(config: StorageNodeConfig, server: HTTPServer, pools: DevicePools, client: BackendClient,
                 reporter: ContainerReporter, expirer: ObjectExpirer, logger: Logger) {
        self.expirer = expirer
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
        }
        let paths = StoragePaths(devicesRoot: config.devicesRoot, hashPath: config.hashPath)
        let pools = DevicePools(devices: config.devices)
        let client = BackendClient()
        let timeout = TimeAmount.milliseconds(Int64(config.updateTimeout * 1000))
        let accountRing = try? Ring.load(from: "\(config.ringDirectory)/account.ring.json")
        if accountRing == nil { logger.warning("no account ring in \(config.ringDirectory): container usage will not be reported") }
        let reporter = ContainerReporter(client: client, accountRing: accountRing, pools: pools, timeout: timeout, logger: logger)
        let updater = ContainerUpdateSender(client: client, paths: paths, timeout: timeout, logger: logger)
        let containerRing = try? Ring.load(from: "\(config.ringDirectory)/container.ring.json")
        let expirer = ObjectExpirer(paths: paths, devices: config.devices, pools: pools, updater: updater, containerRing: containerRing,
                                    clock: clock, logger: logger)
        let handler = StorageHandler(
            objects: ObjectController(paths: paths, pools: pools, updater: updater,
                                      constraints: constraints, clock: clock, logger: logger),
            containers: ContainerController(paths: paths, pools: pools, reporter: reporter, rows: ContainerRowBatcher(pools: pools),
                                            constraints: constraints, logger: logger),
            accounts: AccountController(paths: paths, pools: pools, constraints: constraints),
            paths: paths, devices: Set(config.devices))
        let server = try await HTTPServer.bind(host: config.host, port: config.port, handler: handler, logger: logger)
        logger.notice("storage node listening on \(config.host):\(server.port), devices \(config.devices.joined(separator: ","))")
        return StorageNode(config: config, server: server, pools: pools, client: client, reporter: reporter, expirer: expirer,
                           logger: logger)
    }

    /// Serves until cancelled or gracefully shut down.
    public func run() async throws {
        let interval = Duration.milliseconds(Int64(config.containerReportInterval * 1000))
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.server.run() }
                group.addTask { await self.reporter.run(interval: interval) }
                group.addTask { await self.expirer.run(interval: .milliseconds(Int64(self.config.expirerInterval * 1000))) }
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

    /// Runs one expirer pass now (tests and operators); answers how many objects were deleted.
    @discardableResult
    public func expireNow() async -> Int { await expirer.pass() }

    /// Stops accepting connections (tests use this to simulate a node going down).
    public func close() {
        server.close()
    }
}
