import Foundation
import HTTPServerKit
import Logging
import ControlPlane
import CloudNetwork
import Compute
import EC2API
import NIOConcurrencyHelpers
import Proxy
import NimbusCore
import ServiceLifecycle

/// Runs an all-in-one cluster as `swift-init` runs a Swift host: every storage node and the
/// proxy in its own child process (`nimbus node` / `nimbus proxy` with a config file), so one
/// crash never takes the others down. A child that dies is logged with its exit status or
/// signal and restarted after a backoff (1 s, doubling to 8 s; reset once it has run 30 s).
/// On graceful shutdown every child gets SIGTERM, and SIGKILL if still running after
/// `drainSeconds`.
public final class AIOSupervisor: Service, Sendable {
    /// One supervised daemon.
    public struct Child: Sendable {
        public let name: String
        public let arguments: [String]
    }

    public let children: [Child]
    let executable: String
    let drainSeconds: Double
    let logger: Logger
    private let running = NIOLockedValueBox([String: Process]())

    /// - Parameters:
    ///   - executable: the `nimbus` binary the children run.
    ///   - children: names and arguments of the daemons.
    public init(executable: String, children: [Child], drainSeconds: Double = 30, logger: Logger) {
        self.executable = executable
        self.children = children
        self.drainSeconds = drainSeconds
        self.logger = logger
    }

    /// Writes the node and proxy configs of an all-in-one cluster under `<dataDir>/conf`
    /// (owner-only: they hold the hash-path secrets) and returns the children to run.
    public static func children(dataDir: String, state: AIOState, host: String, proxyPort: Int,
                                proxyServer: HTTPServerOptionsArguments = .init(), keystone: KeystoneAuthConfig? = nil, pipelineFile: String? = nil,
                                compute: AIOCompute? = nil, serversOnly: Bool = false,
                                logArguments: [String]) throws -> [Child] {
        let conf = "\(dataDir)/conf"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        func write(_ data: Data, _ name: String) throws -> String {
            let path = "\(conf)/\(name).json"
            try AtomicFile.write(data, to: path)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            return path
        }
        var out: [Child] = []
        for n in 0..<state.layout.nodes {
            let path = try write(try encoder.encode(AllInOne.nodeConfig(n, dataDir: dataDir, state: state, serversOnly: serversOnly)), "node\(n + 1)")
            out.append(Child(name: "node\(n + 1)", arguments: ["node", "--config", path, "--exit-with-parent"] + logArguments))
        }
        var proxy = AllInOne.proxyConfig(dataDir: dataDir, host: host, port: proxyPort)
        proxyServer.apply(to: &proxy.server)
        proxy.keystone = keystone
        proxy.pipelineFile = pipelineFile
        // Project members log in as project:user; the image service has its own account.
        let control = AIOCompute.controlDirectory(dataDir)
        // The sealing key exists before any child starts, so every process seals with the same one.
        _ = try ControlPlaneSQLStore.loadKey("\(control)/control.key")
        proxy.controlPlane = ControlPlaneLocation(database: ControlPlaneDatabase.location(controlDirectory: control),
                                                  keyFile: "\(control)/control.key")
        let service = try AIOServiceUser.load(directory: control)
        proxy.users.append(TempAuthUser(account: service.account, user: service.user, key: service.key, groups: [".admin"]))
        let path = try write(try encoder.encode(proxy), "proxy")
        out.append(Child(name: "proxy", arguments: ["proxy", "--config", path, "--exit-with-parent"] + logArguments))
        if let compute {
            let loopback = host == "0.0.0.0" ? "127.0.0.1" : host
            let authURL = "http://\(loopback):\(proxyPort)/auth/v1.0"
            let authority = try CloudAuthority.open(directory: control)
            var ec2 = EC2APIConfig(controlDirectory: control)
            ec2.host = host
            ec2.port = compute.port
            ec2.region = compute.region
            ec2.floatingRange = compute.floatingRange
            ec2.addressQuota = compute.addressQuota
            ec2.registry = ImageRegistrar.Config(authURL: authURL, registryUser: "\(service.account):\(service.user)", registryKey: service.key,
                                                 cloudKeyPath: authority.keyPath, workDirectory: "\(dataDir)/images-work")
            if let limit = compute.maxImageSize { ec2.registry?.maxImageSize = limit }
            ec2.fixedRange = compute.fixedRange
            ec2.heartbeatTimeout = 30
            let ec2Path = try write(try encoder.encode(ec2), "ec2")
            out.append(Child(name: "ec2", arguments: ["compute", "api", "--config", ec2Path, "--exit-with-parent"] + logArguments))
            var worker = ComputeWorkerSettings(controlDirectory: control, stateDirectory: "\(dataDir)/compute", registryAuthURL: authURL,
                                               registryUser: "\(service.account):\(service.user)", registryKey: service.key)
            worker.host = "aio"
            worker.zone = "\(compute.region)-1a"
            worker.libvirtURI = compute.libvirtURI
            worker.bridge = compute.bridge
            worker.domainPrefix = compute.prefix
            worker.vcpus = compute.vcpus
            worker.memoryMiB = compute.memoryMiB
            worker.consoleHost = loopback
            let workerPath = try write(try encoder.encode(worker), "compute")
            out.append(Child(name: "compute", arguments: ["compute", "worker", "--config", workerPath, "--exit-with-parent"] + logArguments))
            if let bridge = compute.bridge {
                var network = NetworkWorkerSettings(controlDirectory: control, bridge: bridge, fixedRange: compute.fixedRange,
                                                    stateDirectory: "\(dataDir)/network")
                network.prefix = compute.prefix
                network.publicInterface = compute.publicInterface
                let networkPath = try write(try encoder.encode(network), "network")
                out.append(Child(name: "network", arguments: ["compute", "network", "--config", networkPath, "--exit-with-parent"] + logArguments))
            }
            try CloudEndpoints(ec2URL: "http://\(loopback):\(compute.port)/", authURL: authURL, region: compute.region).save(directory: control)
        }
        return out
    }

    /// The exit of one child.
    private struct Exit: Sendable {
        let index: Int
        let status: Int32
        let signalled: Bool
        let ranFor: Duration
    }

    public func run() async throws {
        let (exits, sink) = AsyncStream<Exit>.makeStream()
        let stopping = NIOLockedValueBox(false)
        for i in children.indices { try spawn(i, sink: sink) }
        try await withGracefulShutdownHandler {
            var failures = [Int](repeating: 0, count: children.count)
            for await exit in exits {
                if stopping.withLockedValue({ $0 }) { continue }
                let child = children[exit.index]
                let how = exit.signalled ? "was killed by signal \(exit.status)" : "exited with status \(exit.status)"
                if exit.ranFor > .seconds(30) { failures[exit.index] = 0 }
                let delay = min(8.0, pow(2.0, Double(failures[exit.index])))
                failures[exit.index] += 1
                logger.error("\(child.name) \(how) after \(exit.ranFor); restarting it in \(Int(delay)) s")
                try? await Task.sleep(for: .seconds(delay))
                if stopping.withLockedValue({ $0 }) || Task.isCancelled { break }
                do {
                    try spawn(exit.index, sink: sink)
                } catch {
                    logger.error("\(child.name) could not be restarted: \(error)")
                    sink.yield(Exit(index: exit.index, status: -1, signalled: false, ranFor: .zero))
                }
            }
        } onGracefulShutdown: {
            stopping.withLockedValue { $0 = true }
            sink.finish()
        }
        await stopAll()
    }

    private func spawn(_ index: Int, sink: AsyncStream<Exit>.Continuation) throws {
        let child = children[index]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = child.arguments
        let started = ContinuousClock.now
        process.terminationHandler = { p in
            sink.yield(Exit(index: index, status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                            ranFor: ContinuousClock.now - started))
        }
        try process.run()
        running.withLockedValue { $0[child.name] = process }
        logger.notice("\(child.name) started (pid \(process.processIdentifier))")
    }

    /// SIGTERM to the proxy first — its requests in flight still reach the nodes while it
    /// drains — then, once it is gone (or after the drain bound), to every node.
    private func stopAll() async {
        let all = running.withLockedValue { $0 }
        let proxies = all.filter { $0.key == "proxy" }, nodes = all.filter { $0.key != "proxy" }
        for group in [proxies, nodes] {
            for (name, p) in group where p.isRunning {
                logger.notice("stopping \(name) (pid \(p.processIdentifier))")
                kill(p.processIdentifier, SIGTERM)
            }
            await waitFor(Array(group.values))
        }
    }

    /// Waits for processes to exit, SIGKILLing those still up after the drain bound.
    private func waitFor(_ processes: [Process]) async {
        let deadline = ContinuousClock.now + .seconds(drainSeconds)
        while processes.contains(where: \.isRunning) {
            if ContinuousClock.now > deadline {
                for p in processes where p.isRunning {
                    logger.error("pid \(p.processIdentifier) did not stop within \(Int(drainSeconds)) s; killing it")
                    kill(p.processIdentifier, SIGKILL)
                }
                return
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Server limits given on `nimbus aio`'s command line and passed on to the proxy.
public struct HTTPServerOptionsArguments: Sendable {
    public var clientTimeout: Double?
    public var maxConnections: Int?
    /// PEM certificate chain and key: the proxy then speaks HTTPS.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?

    public init(clientTimeout: Double? = nil, maxConnections: Int? = nil, tlsCertificateFile: String? = nil, tlsKeyFile: String? = nil) {
        self.clientTimeout = clientTimeout
        self.maxConnections = maxConnections
        self.tlsCertificateFile = tlsCertificateFile
        self.tlsKeyFile = tlsKeyFile
    }

    func apply(to options: inout HTTPServerOptions) {
        if let clientTimeout { options.clientTimeout = clientTimeout }
        if let maxConnections { options.maxConnections = maxConnections }
        if let tlsCertificateFile { options.tlsCertificateFile = tlsCertificateFile }
        if let tlsKeyFile { options.tlsKeyFile = tlsKeyFile }
    }
}
