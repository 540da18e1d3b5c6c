import ArgumentParser
import Cluster
import ControlPlane
import Foundation
import Logging
import Proxy
import ServiceLifecycle

/// `nimbus aio`: the all-in-one cluster from the embedded default layout — each storage node
/// and the proxy in its own supervised child process.
struct AIOCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aio", abstract: "Run the all-in-one cluster: 4 storage nodes, 3 replicas and a proxy, each its own process.")

    @Option(help: "Proxy port (0: any free port).")
    var port: Int = 8080

    @Option(help: "Address the proxy listens on (the storage nodes always listen on 127.0.0.1 only).")
    var host: String = "127.0.0.1"

    @Option(help: "Data directory (rings, devices, state). Reused on the next start.")
    var dataDir: String = "./var/aio"

    @Option(help: "Cluster layout file (default: ring/aio.json if present, else the embedded default).")
    var layout: String?

    @Option(help: "Seconds a client may keep the proxy waiting for bytes it owes (Swift's client_timeout).")
    var clientTimeout: Double?

    @Option(help: "Connections the proxy serves at once; more get 503.")
    var maxConnections: Int?

    @Option(help: "PEM certificate (chain) for the proxy: it then speaks HTTPS only. Needs --tls-key.")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "Keystone v3 endpoint (http(s)://host:port/v3) whose tokens the proxy accepts beside tempauth's; a project's account is AUTH_<project id>.")
    var keystoneURL: String?

    @Option(help: "CA file for an https:// --keystone-url.")
    var keystoneCacert: String?

    @Option(help: "A proxy-server.conf whose [pipeline:main] and [filter:NAME] sections set the proxy's stages (default: Swift's pipeline).")
    var proxyPipeline: String?

    @Flag(help: "Pack small objects into append-only volume files with group commit (the LOSF prototype) when the data directory is created; remembered.")
    var objectVolumes = false

    @Flag(help: "Run the servers only, as Swift's SAIO `startmain` does: no replicators, updater, auditor or expirer (for benchmarks against a SAIO started that way; nothing repairs or expires while it runs).")
    var serversOnly = false

    @Flag(help: "Also run the compute cloud's control plane: the EC2 Query API with its image registry.")
    var compute = false

    @Option(help: "EC2 API port with --compute (0: any free port).")
    var ec2Port: Int = 8773

    @Option(help: "Floating address pool with --compute (IPv4 CIDR).")
    var floatingRange: String = "203.0.113.0/26"

    @Option(help: "Floating addresses a project may hold (--compute).")
    var addressQuota: Int = 5

    @Option(help: "Largest image RegisterImage accepts, in bytes (--compute).")
    var maxImageSize: Int64?

    @Option(help: "Fixed network instances get their addresses from (--compute; IPv4 CIDR, first address the gateway's).")
    var fixedRange: String = "10.77.0.0/24"

    @Option(help: "libvirt URI of the compute worker (--compute; default: a libvirtd of its own when root, else qemu:///session; test:///default runs no VMs).")
    var libvirtUri: String?

    @Option(help: "Bridge of the network worker (--compute; default nimbusbr0 when root). Without one instances get no network.")
    var bridge: String?

    @Option(help: "Prefix of domain names and firewall chains (--compute).")
    var computePrefix: String = "nimbus"

    @Option(help: "Interface floating addresses are added to (--compute --bridge).")
    var publicInterface: String?

    @Option(help: "Memory (MiB) the compute worker offers (--compute; default: the machine's × 1.5).")
    var computeMemory: Int?

    @Option(help: "vCPUs the compute worker offers (--compute; default: 16 a core).")
    var computeVcpus: Int?

    @Option(help: "Control-plane database: a postgres://user@host:port/db URL (default: SQLite in the data directory). Remembered.")
    var controlDb: String?

    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = try log.bootstrap(label: "nimbus.aio")
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("HTTPS needs both --tls-cert and --tls-key") }
        // The image registry and the compute worker reach the object store by its auth URL
        // over loopback and trust no private CA yet.
        if tlsCert != nil && compute { throw ValidationError("--tls-cert cannot be combined with --compute yet (the image registry talks plain HTTP to the proxy)") }
        let layoutPath = layout ?? (FileManager.default.fileExists(atPath: "ring/aio.json") ? "ring/aio.json" : nil)
        var chosen = try layoutPath.map { try AIOLayout.load(from: $0) } ?? .standard
        if objectVolumes { chosen.objectVolumes = true }
        let dataDir = URL(fileURLWithPath: self.dataDir).standardizedFileURL.path
        let state = try AllInOne.prepare(dataDir: dataDir, layout: chosen)
        let proxyPort = port == 0 ? try FreePort.find(count: 1, host: host == "0.0.0.0" ? "127.0.0.1" : host)[0] : port
        if let controlDb {
            guard controlDb == "sqlite" || PostgresEngine.Settings(url: controlDb) != nil else {
                throw ValidationError("--control-db takes postgres://user[:password]@host[:port]/database or sqlite")
            }
            try ControlPlaneDatabase.record(controlDb == "sqlite" ? nil : controlDb, controlDirectory: AIOCompute.controlDirectory(dataDir))
        }
        let probeHost = host == "0.0.0.0" ? "127.0.0.1" : host
        var computeArgs: AIOCompute?
        var ownLibvirt: AIOLibvirt?
        defer { ownLibvirt?.stop() }
        if compute {
            var c = AIOCompute(port: ec2Port == 0 ? try FreePort.find(count: 1, host: probeHost)[0] : ec2Port)
            c.floatingRange = floatingRange
            guard (0...100_000).contains(addressQuota) else { throw ValidationError("--address-quota is 0 to 100000") }
            c.addressQuota = addressQuota
            c.maxImageSize = maxImageSize
            c.fixedRange = fixedRange
            let root = geteuid() == 0
            if let libvirtUri {
                c.libvirtURI = libvirtUri
            } else if root {
                let libvirt = try AIOLibvirt.start(dataDir: dataDir)
                ownLibvirt = libvirt
                c.libvirtURI = libvirt.uri
                logger.notice("libvirtd of this cloud: pid \(libvirt.libvirtdPID), \(libvirt.uri)")
            } else {
                c.libvirtURI = "qemu:///session"
            }
            c.bridge = bridge ?? (root && !c.libvirtURI.hasPrefix("test:") ? "nimbusbr0" : nil)
            c.prefix = computePrefix
            c.publicInterface = publicInterface
            c.memoryMiB = computeMemory
            c.vcpus = computeVcpus
            computeArgs = c
        }
        // A pipeline naming a stage that does not exist fails here, in one line, not in a child.
        if let proxyPipeline { try PipelineConfig.load(path: Self.absolute(proxyPipeline)).check() }
        let children = try AIOSupervisor.children(
            dataDir: dataDir, state: state, host: host, proxyPort: proxyPort,
            proxyServer: .init(clientTimeout: clientTimeout, maxConnections: maxConnections,
                               tlsCertificateFile: tlsCert.map(Self.absolute), tlsKeyFile: tlsKey.map(Self.absolute)),
            keystone: keystoneURL.map { url in
                var k = KeystoneAuthConfig(url: url)
                k.caFile = keystoneCacert.map(Self.absolute)
                return k
            },
            pipelineFile: proxyPipeline.map(Self.absolute),
            compute: computeArgs, serversOnly: serversOnly,
            logArguments: log.arguments)
        let supervisor = AIOSupervisor(executable: try Self.ownExecutable(), children: children, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: supervisor)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            guard await PortProbe.waitUntilListening(host: host, port: proxyPort, seconds: 60) else {
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                throw ValidationError("the proxy did not start listening on \(host):\(proxyPort); see the log")
            }
            if let computeArgs, !(await PortProbe.waitUntilListening(host: probeHost, port: computeArgs.port, seconds: 60)) {
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                throw ValidationError("the EC2 API did not start listening on port \(computeArgs.port); see the log")
            }
            let url = "\(tlsCert == nil ? "http" : "https")://\(host):\(proxyPort)/auth/v1.0"
            var out = """
                Nimbus all-in-one cluster is up: \(state.layout.nodes) storage nodes (ports \
                \(state.nodePorts.map { String($0) }.joined(separator: ", "))), \(state.layout.replicas) replicas, data in \(dataDir)
                Auth URL: \(url)
                Users (tempauth v1.0):

                """
            for u in AIOUsers.all {
                out += "  \(u.account):\(u.user)  key \(u.key)  \(u.groups.joined(separator: " "))\n"
            }
            if let computeArgs {
                out += "EC2 API: http://\(host):\(computeArgs.port)/ (region nimbus); credentials: nimbus manage project zipfile PROJECT USER --data-dir \(self.dataDir)\n"
                out += "Compute: libvirt \(computeArgs.libvirtURI), fixed network \(computeArgs.fixedRange)"
                    + (computeArgs.bridge.map { " on bridge \($0)" } ?? " (no network worker: instances get no NIC)") + "\n"
            }
            let caOption = tlsCert == nil ? "" : " [--os-cacert CA.pem, unless its CA is in the system's store]"
            out += "Try: swift -A \(url) -U test:tester -K testing\(caOption) stat\nCtrl-C stops the cluster.\n"
            FileHandle.standardOutput.write(Data(out.utf8))
            try await tasks.waitForAll()
        }
    }

    /// A path the children (which may run elsewhere) can open.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// This binary, for the children.
    static func ownExecutable() throws -> String {
        let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        return path
    }
}
