import ArgumentParser
import Foundation
import Logging
import Proxy
import ServiceLifecycle
import StorageServer

/// `nimbus node --config FILE`: one storage node (account, container and object servers).
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Run one storage node from a JSON config.")

    @Option(help: "Node config (JSON: devicesRoot, devices, host, port, hashPath, ringDirectory).")
    var config: String

    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = try log.bootstrap(label: "nimbus.node")
        let cfg = try JSONDecoder().decode(StorageNodeConfig.self, from: Data(contentsOf: URL(fileURLWithPath: config)))
        try await runUntilSignalled([try await StorageNode.start(config: cfg, logger: logger)], logger: logger)
    }
}

/// `nimbus proxy --config FILE`: the proxy server.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "proxy", abstract: "Run the proxy server from a JSON config.")

    @Option(help: "Proxy config (JSON: host, port, ringDirectory, users).")
    var config: String

    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = try log.bootstrap(label: "nimbus.proxy")
        let cfg = try JSONDecoder().decode(ProxyConfig.self, from: Data(contentsOf: URL(fileURLWithPath: config)))
        try await runUntilSignalled([try await ProxyServer.start(config: cfg, logger: logger)], logger: logger)
    }
}

/// Runs daemons until SIGTERM or SIGINT, then shuts them down gracefully.
func runUntilSignalled(_ services: [any Service], logger: Logger) async throws {
    let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                  gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}
