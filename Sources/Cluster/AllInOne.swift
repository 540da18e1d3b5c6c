import Digest
import Foundation
import Logging
import NimbusCore
import Proxy
import Ring
import ServiceLifecycle
import StorageServer

/// An all-in-one cluster: N storage nodes (one zone each) and a proxy in one process, with
/// its data, rings and state under one directory. A second start reuses all of it.
public final class AllInOne: Sendable {
    public let dataDir: String
    public let state: AIOState
    public let nodes: [StorageNode]
    public let proxy: ProxyServer

    private init(dataDir: String, state: AIOState, nodes: [StorageNode], proxy: ProxyServer) {
        self.dataDir = dataDir
        self.state = state
        self.nodes = nodes
        self.proxy = proxy
    }

    /// Every service to run (nodes first, proxy last).
    public var services: [any Service] { nodes.map { $0 as any Service } + [proxy] }

    public var ringDirectory: String { "\(dataDir)/rings" }

    /// Device directory root of node `i` (0-based).
    public func devicesRoot(node i: Int) -> String { "\(dataDir)/node\(i + 1)" }

    /// Loads `<dataDir>/aio.json`, or on first start picks ports and secrets and builds the rings.
    public static func prepare(dataDir: String, layout: AIOLayout) throws -> AIOState {
        let host = nodeHost
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(dataDir)/rings", withIntermediateDirectories: true)
        let statePath = "\(dataDir)/aio.json"
        if fm.fileExists(atPath: statePath) {
            // The hash-path secrets are in it: owner only (also for data dirs made before this rule).
            try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: statePath)
            return try JSONDecoder().decode(AIOState.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
        }
        let ports = try FreePort.find(count: layout.nodes, host: host)
        let secrets = HashPathConfig(prefix: Hex.encode(Digests.randomBytes(8)), suffix: Hex.encode(Digests.randomBytes(8)))
        let state = AIOState(layout: layout, nodePorts: ports, hashPath: secrets)
        for kind in ["account", "container", "object"] {
            var builder = try RingBuilder(partPower: layout.partPower, replicas: layout.replicas,
                                          minPartHours: layout.minPartHours, hashPath: secrets)
            for n in 0..<layout.nodes {
                for d in 0..<layout.devicesPerNode {
                    try builder.add(RingDevice(id: -1, region: 1, zone: n + 1, ip: host, port: ports[n],
                                               device: deviceName(node: n, index: d), weight: layout.weight))
                }
            }
            try builder.rebalance()
            try builder.save(to: "\(dataDir)/rings/\(kind).builder.json")
            try builder.ring().save(to: "\(dataDir)/rings/\(kind).ring.json")
        }
        for n in 0..<layout.nodes {
            for d in 0..<layout.devicesPerNode {
                try fm.createDirectory(atPath: "\(dataDir)/node\(n + 1)/\(deviceName(node: n, index: d))", withIntermediateDirectories: true)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(state), to: statePath)
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: statePath)
        return state
    }

    /// Device names in Swift's SAIO style: node 1 has `sdb1`, node 2 `sdb2`, a second device `sdc1`…
    public static func deviceName(node: Int, index: Int) -> String {
        let letter = Character(UnicodeScalar(UInt8(ascii: "b") + UInt8(index)))
        return "sd\(letter)\(node + 1)"
    }

    /// The config of storage node `n` (0-based). Nodes listen on loopback only, whatever
    /// address the proxy serves: they take unauthenticated writes and are the proxy's alone.
    /// - Parameter serversOnly: no background daemons (`StorageNodeConfig.backgroundDaemons`).
    public static func nodeConfig(_ n: Int, dataDir: String, state: AIOState, serversOnly: Bool = false) -> StorageNodeConfig {
        let devices = (0..<state.layout.devicesPerNode).map { deviceName(node: n, index: $0) }
        var config = StorageNodeConfig(devicesRoot: "\(dataDir)/node\(n + 1)", devices: devices, host: nodeHost,
                                       port: state.nodePorts[n], hashPath: state.hashPath, ringDirectory: "\(dataDir)/rings")
        config.expirerInterval = 10
        config.objectVolumes = state.layout.objectVolumes ?? false
        config.backgroundDaemons = !serversOnly
        return config
    }

    /// The proxy's config, with the tempauth users of Swift's functional tests.
    public static func proxyConfig(dataDir: String, host: String, port: Int) -> ProxyConfig {
        ProxyConfig(host: host, port: port, ringDirectory: "\(dataDir)/rings",
                    users: AIOUsers.all.map { TempAuthUser(account: $0.account, user: $0.user, key: $0.key, groups: $0.groups) })
    }

    /// Where the nodes of an all-in-one cluster listen.
    public static let nodeHost = "127.0.0.1"

    /// Prepares (if needed) and binds every node and the proxy in this process (the test
    /// harness's cluster; `nimbus aio` runs each in its own process, see `AIOSupervisor`).
    public static func start(dataDir: String, layout: AIOLayout = .standard, host: String = "127.0.0.1", proxyPort: Int,
                             tokenLife: Double = 86_400, pipelineFile: String? = nil, clock: any WallClock = SystemClock(),
                             logger: Logger) async throws -> AllInOne {
        let state = try prepare(dataDir: dataDir, layout: layout)
        var nodes: [StorageNode] = []
        for n in 0..<state.layout.nodes {
            let config = nodeConfig(n, dataDir: dataDir, state: state)
            var nodeLogger = logger
            nodeLogger[metadataKey: "server"] = "node\(n + 1)"
            do {
                nodes.append(try await StorageNode.start(config: config, clock: clock, logger: nodeLogger))
            } catch {
                // Nothing half-started stays bound.
                for n in nodes { n.close() }
                throw error
            }
        }
        var proxyConfig = proxyConfig(dataDir: dataDir, host: host, port: proxyPort)
        proxyConfig.tokenLife = tokenLife
        proxyConfig.pipelineFile = pipelineFile
        var proxyLogger = logger
        proxyLogger[metadataKey: "server"] = "proxy"
        let proxy = try await ProxyServer.start(config: proxyConfig, clock: clock, logger: proxyLogger)
        return AllInOne(dataDir: dataDir, state: state, nodes: nodes, proxy: proxy)
    }
}
