import ArgumentParser
import EC2API
import Foundation
import ServiceLifecycle

/// `nimbus compute …`: the compute cloud's daemons (today the EC2 Query API).
struct ComputeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute", abstract: "Compute cloud daemons.", subcommands: [API.self])

    /// `nimbus compute api`: the EC2 Query API (awscli and boto3 with --endpoint-url).
    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the EC2 Query API (SigV4, credentials from nimbus manage).")

        @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
        @Option(help: "Port (Nova's EC2 API used 8773).") var port: Int = 8773
        @Option(help: "Region name clients sign for and see.") var region: String = "nimbus"
        @Option(help: "Availability zone (repeatable).") var zone: [String] = []
        @OptionGroup var store: StoreOptions
        @OptionGroup var log: LogOptions

        func run() async throws {
            let logger = try log.bootstrap(label: "nimbus.ec2")
            let server = try await EC2APIServer.start(host: host, port: port, store: try await store.store(), region: region,
                                                      zones: zone.isEmpty ? ["\(region)-1a"] : zone, logger: logger)
            try await runUntilSignalled([server], logger: logger)
        }
    }
}
