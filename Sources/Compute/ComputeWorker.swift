import ControlPlane
import Digest
import Foundation
import HTTPServerKit
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import NimbusCore

/// The compute worker of one host (`nimbus compute worker`): reports the host's capacity and a
/// heartbeat to the control-plane store, claims the work queued for its instances there and
/// does it — several instances at once, each task on its own, so a slow image download never
/// holds up another instance (or any console: consoles are served by their own endpoint). On
/// start it gives back what a previous run of it had claimed (that work is retried) and
/// reconciles the store with what libvirt runs.
public final class ComputeWorker: Sendable {
    public struct Config: Sendable {
        public var host: String
        public var zone = "nova"
        /// Capacity offered to the scheduler.
        public var vcpus: Int
        public var memoryMiB: Int
        public var diskGiB: Int
        /// Instances' files (`instances/<id>/`) and the image cache (`images/`).
        public var stateDirectory: String
        /// The bridge instances' NICs join (nil: no NIC, e.g. libvirt's test driver).
        public var bridge: String?
        /// Domain type: `qemu` (TCG), `kvm`, or `test`.
        public var virtType = "qemu"
        /// Domains are named `<prefix>-<instance id>`; domains of the prefix that no live
        /// instance owns are removed.
        public var domainPrefix = "nimbus"
        /// Where the console endpoint listens (port 0: any free port).
        public var consoleHost = "127.0.0.1"
        public var consolePort = 0
        public var heartbeatInterval: Double = 5
        /// Instances worked on at once.
        public var concurrency = 4
        /// Tries of one task before the instance goes to `error`.
        public var maxAttempts = 5
        /// How an instance's disk is made from the cached image (default: a qcow2 overlay by `qemu-img`).
        public var makeDisk: @Sendable (_ backing: String, _ path: String) throws -> Void = QemuImg.overlay

        public init(host: String, vcpus: Int, memoryMiB: Int, diskGiB: Int, stateDirectory: String) {
            self.host = host
            self.vcpus = vcpus
            self.memoryMiB = memoryMiB
            self.diskGiB = diskGiB
            self.stateDirectory = stateDirectory
        }
    }

    public let config: Config
    let store: any ControlPlaneStore
    let hypervisor: any Hypervisor
    let source: any ImageSource
    let cache: ImageCache
    let logger: Logger
    /// This run of the worker (claims carry it).
    let workerID: String
    let token: String
    let files: NIOThreadPool
    private let busy = NIOLockedValueBox(0)
    private let consoleServer = NIOLockedValueBox<HTTPServer?>(nil)

    public init(config: Config, store: any ControlPlaneStore, hypervisor: any Hypervisor, images: any ImageSource, logger: Logger) throws {
        self.config = config
        self.store = store
        self.hypervisor = hypervisor
        source = images
        self.logger = logger
        workerID = "\(config.host)/\(getpid())/\(Hex.encode(Digests.randomBytes(4)))"
        token = Hex.encode(Digests.randomBytes(16))
        // Directories qemu (libvirt's own user under qemu:///system) must be able to traverse.
        for dir in [config.stateDirectory, (config.stateDirectory as NSString).appendingPathComponent("instances")] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        }
        let source = images
        cache = try ImageCache(directory: (config.stateDirectory as NSString).appendingPathComponent("images"), fetch: { id, path in
            try await source.download(id, to: path)
        })
        files = NIOThreadPool(numberOfThreads: 2)
        files.start()
    }

    deinit { files.shutdownGracefully { _ in } }

    var instancesDirectory: String { (config.stateDirectory as NSString).appendingPathComponent("instances") }

    func directory(of id: String) -> String { (instancesDirectory as NSString).appendingPathComponent(id) }

    func domainName(_ id: String) -> String { "\(config.domainPrefix)-\(id)" }

    /// The console endpoint's URL once running.
    public var consoleEndpoint: String? {
        consoleServer.withLockedValue { s in s.map { "http://\(config.consoleHost):\($0.port)" } }
    }

    /// Runs until cancelled.
    public func run() async throws {
        let server = try await HTTPServer.bind(host: config.consoleHost, port: config.consolePort,
                                               handler: ConsoleHandler(token: token, directory: instancesDirectory, pool: files), logger: logger)
        consoleServer.withLockedValue { $0 = server }
        try await heartbeat()
        try await store.releaseClaims(host: config.host)
        try? await reconcile()
        logger.notice("compute worker \(workerID) on \(config.host): consoles at \(consoleEndpoint ?? "?")")
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in await serveConsoles(server) }
            group.addTask { [self] in
                var beats = 0
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: UInt64(config.heartbeatInterval * 1e9))
                    do { try await heartbeat() } catch { logger.warning("heartbeat failed: \(error)") }
                    beats += 1
                    if beats % 2 == 0 { try? await reconcile() }
                }
            }
            group.addTask { [self] in await workLoop() }
            await group.next()
            group.cancelAll()
            server.close()
        }
    }

    private func serveConsoles(_ server: HTTPServer) async {
        await withTaskCancellationHandler {
            try? await server.run()
        } onCancel: {
            server.close()
        }
    }

    func heartbeat() async throws {
        var host = ComputeHost(name: config.host, zone: config.zone, vcpus: config.vcpus, memoryMiB: config.memoryMiB,
                               diskGiB: config.diskGiB, heartbeat: 0)
        host.endpoint = consoleEndpoint ?? ""
        host.token = token
        try await store.reportHost(host, worker: workerID)
    }

    /// Claims work while there is room, each task in its own child task.
    func workLoop() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let generation = store.workGeneration
                let room = config.concurrency - busy.withLockedValue { $0 }
                var claimed: [Instance] = []
                if room > 0 {
                    do { claimed = try await store.claimWork(host: config.host, worker: workerID, limit: room) } catch {
                        logger.warning("claiming work failed: \(error)")
                    }
                }
                for instance in claimed {
                    busy.withLockedValue { $0 += 1 }
                    group.addTask { [self] in
                        await perform(instance)
                        busy.withLockedValue { $0 -= 1 }
                    }
                }
                if claimed.isEmpty { await store.waitForWork(since: generation, timeout: 1) }
            }
        }
    }
}

/// `qemu-img`, for instance disks.
public enum QemuImg {
    /// A qcow2 overlay whose backing file is the cached image (copy-on-write: the image is
    /// shared by every instance of it and never written).
    public static func overlay(backing: String, path: String) throws {
        let r = try ChildProcess.run("/usr/bin/qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", backing, path], timeout: 60)
        guard r.succeeded else { throw ComputeError("qemu-img could not create the instance disk: \(r.errorText)") }
    }
}

/// A compute failure, in words for the instance's state reason.
public struct ComputeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
