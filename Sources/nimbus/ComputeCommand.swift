import ArgumentParser
import CloudNetwork
import Compute
import ControlPlane
import EC2API
import Foundation
import Logging
import NimbusCore
import ServiceLifecycle

/// `nimbus compute …`: the compute cloud's daemons (today the EC2 Query API).
struct ComputeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute", abstract: "Compute cloud daemons.", subcommands: [API.self, Worker.self, Network.self])

    /// `nimbus compute api`: the EC2 Query API (awscli and boto3 with --endpoint-url).
    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the EC2 Query API (SigV4, credentials from nimbus manage).")

        @Option(help: "JSON config (as nimbus aio --compute writes it); the options below are ignored with it.") var config: String?
        @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
        @Option(help: "Port (Nova's EC2 API used 8773).") var port: Int = 8773
        @Option(help: "Region name clients sign for and see.") var region: String = "nimbus"
        @Option(help: "Availability zone (repeatable).") var zone: [String] = []
        @Option(help: "Floating address pool (IPv4 CIDR, /16 or smaller).") var floatingRange: String = "203.0.113.0/26"
        @OptionGroup var store: StoreOptions
        @OptionGroup var log: LogOptions
        @OptionGroup var supervision: SupervisionOptions

        func run() async throws {
            supervision.apply()
            let logger = try log.bootstrap(label: "nimbus.ec2")
            var cfg: EC2APIConfig
            if let config {
                cfg = try ConfigFile.load(EC2APIConfig.self, from: config)
            } else {
                cfg = EC2APIConfig(controlDirectory: store.controlDirectory)
                cfg.host = host
                cfg.port = port
                cfg.region = region
                cfg.zones = zone
                cfg.floatingRange = floatingRange
            }
            guard let pool = EC2Settings.addresses(inCIDR: cfg.floatingRange) else {
                throw ValidationError("the floating range must be an IPv4 CIDR of /16 or smaller, not \(cfg.floatingRange)")
            }
            let s = try ControlPlaneSQLStore.open(database: cfg.database, keyFile: cfg.keyFile)
            try await s.migrate()
            var registrar: ImageRegistrar?
            if let registry = cfg.registry {
                let r = try ImageRegistrar(config: registry, store: s, logger: logger)
                try await r.recoverInterrupted()
                registrar = r
            }
            var compute: ComputeSettings?
            if let fixed = cfg.fixedRange {
                let (network, gateway) = try NetworkWorkerSettings.network(fixed)
                compute = ComputeSettings(fixedRange: network.hosts.map(\.description), reserved: [gateway.description])
                compute?.heartbeatTimeout = cfg.heartbeatTimeout
            }
            var settings = EC2Settings(region: cfg.region, zones: cfg.zones.isEmpty ? ["\(cfg.region)-1a"] : cfg.zones,
                                       floatingPool: pool, registrar: registrar, compute: compute)
            settings.addressQuota = cfg.addressQuota
            settings.credentials = CredentialsIssuing(authority: try CloudAuthority.open(directory: cfg.controlDirectory),
                                                      endpoints: CloudEndpoints.load(directory: cfg.controlDirectory))
            let server = try await EC2APIServer.start(host: cfg.host, port: cfg.port, store: s, settings: settings, logger: logger)
            var services: [any Service] = [server]
            if compute != nil { services.append(SilentHostReaper(store: s, timeout: cfg.heartbeatTimeout, logger: logger)) }
            try await runUntilSignalled(services, logger: logger)
        }
    }

    /// `nimbus compute worker`: runs this host's instances through libvirt.
    struct Worker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the compute worker of this host (libvirt).")

        @Option(help: "JSON settings (as nimbus aio --compute writes them).") var config: String
        @OptionGroup var log: LogOptions
        @OptionGroup var supervision: SupervisionOptions

        func run() async throws {
            supervision.apply()
            let logger = try log.bootstrap(label: "nimbus.compute")
            let settings = try ConfigFile.load(ComputeWorkerSettings.self, from: config)
            let store = try await openStore(controlDirectory: settings.controlDirectory)
            let hypervisor: LibvirtHypervisor
            do { hypervisor = try LibvirtHypervisor(uri: settings.libvirtURI) } catch {
                throw ValidationError("cannot reach libvirt at \(settings.libvirtURI): \(error) (is libvirtd running?)")
            }
            let images = RegistryImages(authURL: settings.registryAuthURL, user: settings.registryUser, key: settings.registryKey,
                                        container: settings.registryContainer)
            let worker = try ComputeWorker(config: settings.workerConfig(), store: store, hypervisor: hypervisor, images: images, logger: logger)
            try await runUntilSignalled([TaskService { try await worker.run() }], logger: logger)
        }
    }

    /// `nimbus compute network`: the network worker (bridge, DHCP, firewall, metadata).
    struct Network: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "network", abstract: "Run the network worker of this host (bridge, dnsmasq, iptables, metadata; needs root).")

        @Option(help: "JSON settings (as nimbus aio --compute writes them).") var config: String
        @OptionGroup var log: LogOptions
        @OptionGroup var supervision: SupervisionOptions

        func run() async throws {
            supervision.apply()
            let logger = try log.bootstrap(label: "nimbus.network")
            let settings = try ConfigFile.load(NetworkWorkerSettings.self, from: config)
            let store = try await openStore(controlDirectory: settings.controlDirectory)
            let worker = try NetworkWorker(config: try settings.workerConfig(), store: store, logger: logger)
            try await runUntilSignalled([TaskService { try await worker.run() }], logger: logger)
        }
    }
}

/// The control plane's store a control directory names, migrated.
func openStore(controlDirectory: String) async throws -> ControlPlaneSQLStore {
    let store = try ControlPlaneSQLStore.open(database: ControlPlaneDatabase.location(controlDirectory: controlDirectory),
                                              keyFile: (controlDirectory as NSString).appendingPathComponent("control.key"))
    try await store.migrate()
    return store
}

/// A long-running body as a service: cancelled on graceful shutdown.
struct TaskService: Service {
    let body: @Sendable () async throws -> Void

    init(_ body: @escaping @Sendable () async throws -> Void) { self.body = body }

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await body() }
    }
}

/// Fails the waiting instances of compute hosts that stopped reporting (every 15 s).
struct SilentHostReaper: Service {
    let store: any ControlPlaneStore
    let timeout: Double
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(15))
                do {
                    let failed = try await store.failInstancesOfSilentHosts(silentFor: timeout)
                    if !failed.isEmpty { logger.warning("instances of silent compute hosts failed: \(failed.joined(separator: " "))") }
                } catch { logger.warning("checking compute hosts failed: \(error)") }
            }
        }
    }
}
