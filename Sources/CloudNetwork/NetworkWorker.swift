import ControlPlane
import Foundation
import HTTPServerKit
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import NimbusCore

/// The network worker of a host (`nimbus network worker`, or inside `nimbus aio --compute`):
/// owns one bridge, its dnsmasq (static DHCP from the store's fixed addresses, SIGHUP on
/// change), the metadata service behind 169.254.169.254, and the firewall (security groups and
/// floating addresses, rebuilt from the store and applied atomically, one writer at a time).
/// It is level-triggered: every pass computes the whole wanted state from the store, so a
/// restart rebuilds everything and a missed change is caught by the next pass.
public final class NetworkWorker: Sendable {
    public struct Config: Sendable {
        public var bridge: String
        /// The fixed network and the bridge's own address in it (gateway, DHCP, metadata).
        public var network: IPv4Network
        public var gateway: IPv4Address
        /// dnsmasq's files and the worker's lock.
        public var stateDirectory: String
        /// Firewall chains start with it (two clouds or test runs on one host never collide).
        public var prefix: String
        public var metadataPort = 8775
        public var leaseSeconds = 120
        /// The interface floating addresses are added to (/32): they become this host's own
        /// addresses, so the host itself reaches them (its packets need a route before OUTPUT's
        /// DNAT) and neighbours on its links get ARP answers. `lo` unless told otherwise.
        public var publicInterface = "lo"
        /// Seconds between passes when nothing wakes the worker.
        public var interval: Double = 2

        public init(bridge: String, network: IPv4Network, gateway: IPv4Address, stateDirectory: String, prefix: String) {
            self.bridge = bridge
            self.network = network
            self.gateway = gateway
            self.stateDirectory = stateDirectory
            self.prefix = prefix
        }
    }

    public let config: Config
    let store: any ControlPlaneStore
    let logger: Logger
    let pool: NIOThreadPool
    /// What the last pass applied (a pass changes only what differs).
    struct Applied {
        var hosts = ""
        var filter = ""
        var nat = ""
        var floating: Set<String> = []
        /// When the firewall was last written.
        var at: Double = 0
        var leases = ""
    }

    let applied = NIOLockedValueBox(Applied())

    public init(config: Config, store: any ControlPlaneStore, logger: Logger) throws {
        _ = try FirewallPlan(prefix: config.prefix)
        guard Self.isInterfaceName(config.bridge) else { throw NetworkError("'\(config.bridge)' is not an interface name (1-15 of a-z, 0-9, -, _)") }
        guard config.network.contains(config.gateway) else { throw NetworkError("the gateway \(config.gateway) is not in \(config.network)") }
        self.config = config
        self.store = store
        self.logger = logger
        try FileManager.default.createDirectory(atPath: config.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    deinit { pool.shutdownGracefully { _ in } }

    static func isInterfaceName(_ s: String) -> Bool {
        (1...15).contains(s.utf8.count) && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F }
    }

    func path(_ name: String) -> String { (config.stateDirectory as NSString).appendingPathComponent(name) }

    /// Runs until cancelled; refuses to start when another worker owns the bridge.
    public func run() async throws {
        let lock = try BridgeLock(bridge: config.bridge)
        defer { lock.release() }
        try await pool.runIfActive { [self] in try setUpBridge() }
        let metadata = try await HTTPServer.bind(host: config.gateway.description, port: config.metadataPort,
                                                 handler: MetadataHandler(source: StoreMetadataSource(store: store)), logger: logger)
        logger.notice("network worker on \(config.bridge) (\(config.network), gateway \(config.gateway)); metadata at \(config.gateway):\(config.metadataPort)")
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler { try? await metadata.run() } onCancel: { metadata.close() }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    let generation = store.workGeneration
                    do { try await pass() } catch { logger.warning("network pass failed: \(error)") }
                    await store.waitForWork(since: generation, timeout: config.interval)
                }
            }
            await group.next()
            group.cancelAll()
        }
        metadata.close()
        stopDnsmasq()
    }

    /// One pass: wanted DHCP hosts, firewall and floating addresses from the store, applied where
    /// they changed; leases read back into the store.
    func pass() async throws {
        let instances = try await store.instances(project: nil).filter { !$0.state.isFinal && $0.fixedIP != nil }
        let hosts = instances.compactMap { i -> DnsmasqHosts.Host? in
            guard let ip = i.fixedIP, let mac = i.mac, let addr = IPv4Address(ip), config.network.contains(addr) else { return nil }
            return DnsmasqHosts.Host(mac: mac, ip: ip, hostname: i.id)
        }
        let hostsText = DnsmasqHosts.render(hosts, leaseSeconds: config.leaseSeconds)
        var plan = try FirewallPlan(prefix: config.prefix)
        plan.gateway = config.gateway
        plan.metadata = (config.gateway, config.metadataPort)
        plan.instances = try await firewallInstances(instances)
        let floating = try await store.floatingAssociations()
        plan.floating = floating.compactMap { f in
            guard let p = IPv4Address(f.publicIP), let x = IPv4Address(f.fixedIP) else { return nil }
            return (p, x)
        }
        let now = Date().timeIntervalSince1970
        let wanted = plan
        let leases: String = try await pool.runIfActive { [self] in
            var plan = wanted
            var state = applied.withLockedValue { $0 }
            if hostsText != state.hosts || runningDnsmasq() == nil {
                try Data(hostsText.utf8).write(to: URL(fileURLWithPath: path("dhcp-hosts")), options: .atomic)
                try ensureDnsmasq(reload: true)
                state.hosts = hostsText
            }
            // Written when changed, and once a minute anyway (someone may have flushed the tables).
            let filter = try plan.filterTable(), nat = plan.natTable()
            if filter != state.filter || nat != state.nat || now - state.at > 60 {
                plan.staleChains = try ourChains().filter { c in !plan.instances.contains { plan.chain(for: $0.id) == c } }
                try applyFirewall(plan, filter: try plan.filterTable(), nat: nat)
                (state.filter, state.nat, state.at) = (filter, nat, now)
            }
            let floating = Set(plan.floating.map { $0.public.description })
            for ip in floating.subtracting(state.floating) { _ = try? Self.ip(["addr", "replace", "\(ip)/32", "dev", config.publicInterface]) }
            for ip in state.floating.subtracting(floating) { _ = try? Self.ip(["addr", "del", "\(ip)/32", "dev", config.publicInterface]) }
            state.floating = floating
            applied.withLockedValue { $0 = state }
            return (try? String(contentsOfFile: path("leases"), encoding: .utf8)) ?? ""
        }
        // Leases go to the store when dnsmasq's file changed.
        if leases != applied.withLockedValue({ $0.leases }) {
            let parsed = DnsmasqLease.parse(leases)
            try await store.recordLeases(parsed.map { (ip: $0.ip, expires: Int64(($0.expires ?? 4_102_444_800) * 1_000_000)) })
            applied.withLockedValue { $0.leases = leases }
        }
    }

    /// Each instance's allowed inbound flows: its groups' rules, source groups expanded to the
    /// fixed addresses of the instances in them.
    func firewallInstances(_ instances: [Instance]) async throws -> [FirewallPlan.Instance] {
        var groupsByProject: [String: [SecurityGroup]] = [:]
        for project in Set(instances.map(\.project)) { groupsByProject[project] = try await store.securityGroups(project: project) }
        func members(_ project: String, _ name: String) async throws -> [String] {
            if groupsByProject[project] == nil { groupsByProject[project] = try await store.securityGroups(project: project) }
            guard let id = groupsByProject[project]?.first(where: { $0.name == name })?.id else { return [] }
            return instances.filter { $0.groupIDs.contains(id) }.compactMap { $0.fixedIP.map { "\($0)/32" } }
        }
        var out: [FirewallPlan.Instance] = []
        for i in instances {
            guard let ip = i.fixedIP.flatMap(IPv4Address.init) else { continue }
            var rules: [FirewallPlan.Rule] = []
            for group in groupsByProject[i.project] ?? [] where i.groupIDs.contains(group.id) {
                for r in group.rules {
                    let sources: [String]
                    if let cidr = r.cidr { sources = [cidr] } else if let p = r.sourceProject, let g = r.sourceGroup {
                        sources = try await members(p, g)
                    } else { sources = [] }
                    if !sources.isEmpty { rules.append(FirewallPlan.Rule(ipProtocol: r.ipProtocol, fromPort: r.fromPort, toPort: r.toPort, sources: sources)) }
                }
            }
            out.append(FirewallPlan.Instance(id: i.id, fixedIP: ip, rules: rules))
        }
        return out
    }
}

/// A network worker's refusal, in words.
public struct NetworkError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
