import ArgumentParser
import ControlPlane
import EC2API
import Foundation
import NimbusCore
import ServiceLifecycle

/// `nimbus compute …`: the compute cloud's daemons (today the EC2 Query API).
struct ComputeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute", abstract: "Compute cloud daemons.", subcommands: [API.self])

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
            let settings = EC2Settings(region: cfg.region, zones: cfg.zones.isEmpty ? ["\(cfg.region)-1a"] : cfg.zones,
                                       floatingPool: pool, registrar: registrar)
            let server = try await EC2APIServer.start(host: cfg.host, port: cfg.port, store: s, settings: settings, logger: logger)
            try await runUntilSignalled([server], logger: logger)
        }
    }
}
