import ArgumentParser
import Cluster
import Foundation
import Logging
import ServiceLifecycle

/// `nimbus aio`: the whole cluster in one process, from the embedded default layout.
struct AIOCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aio", abstract: "Run the all-in-one cluster: 4 storage nodes, 3 replicas and a proxy.")

    @Option(help: "Proxy port.")
    var port: Int = 8080

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Data directory (rings, devices, state). Reused on the next start.")
    var dataDir: String = "./var/aio"

    @Option(help: "Cluster layout file (default: ring/aio.json if present, else the embedded default).")
    var layout: String?

    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = try log.bootstrap(label: "nimbus.aio")
        let layoutPath = layout ?? (FileManager.default.fileExists(atPath: "ring/aio.json") ? "ring/aio.json" : nil)
        let chosen = try layoutPath.map { try AIOLayout.load(from: $0) } ?? .standard
        let aio = try await AllInOne.start(dataDir: dataDir, layout: chosen, host: host, proxyPort: port, logger: logger)
        let url = "http://\(host):\(aio.proxy.port)/auth/v1.0"
        var out = """
            Nimbus all-in-one cluster is up: \(aio.state.layout.nodes) storage nodes (ports \
            \(aio.nodes.map { String($0.port) }.joined(separator: ", "))), \(aio.state.layout.replicas) replicas, data in \(dataDir)
            Auth URL: \(url)
            Users (tempauth v1.0):

            """
        for u in AIOUsers.all {
            out += "  \(u.account):\(u.user)  key \(u.key)  \(u.groups.joined(separator: " "))\n"
        }
        out += "Try: swift -A \(url) -U test:tester -K testing stat\nCtrl-C stops the cluster.\n"
        FileHandle.standardOutput.write(out.data(using: .utf8)!)
        try await runUntilSignalled(aio.services, logger: logger)
    }
}
