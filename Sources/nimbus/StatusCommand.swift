import ArgumentParser
import Foundation
import HTTPClientKit
import NIOHTTP1
import Ring

/// `nimbus status`: what each storage node's background work has done, read from the
/// nodes' `/recon` endpoints (the nodes are found in the object ring).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status",
                                                    abstract: "Show replication, updater, auditor and expirer state of every node.")

    @Option(help: "Directory with the ring files (for an aio: <data-dir>/rings).")
    var ringDir: String = "./var/aio/rings"

    @Flag(help: "Print the raw JSON of every node.")
    var json = false

    func run() async throws {
        let ring = try Ring.load(from: "\(ringDir)/object.ring.json")
        var seen = Set<String>()
        let client = BackendClient()
        defer { client.shutdown() }
        print(Self.row(["node", "last-repl", "parts", "pushed", "handoffs", "failures", "async", "quarant", "expired"]))
        for device in ring.activeDevices where seen.insert(device.address).inserted {
            guard let r = try? await client.request(host: device.ip, port: device.port, method: "GET", uri: "/recon",
                                                    headers: HTTPHeaders(), timeout: .seconds(5)), r.status == 200,
                  let snapshot = try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any] else {
                print(Self.row([device.address, "unreachable"]))
                continue
            }
            if json {
                print(device.address, String(decoding: r.body.readableBytesView, as: UTF8.self))
                continue
            }
            let repl = snapshot["objectReplication"] as? [String: Any] ?? [:]
            let last = (snapshot["objectReplicationLast"] as? Double).map { "\(Int(Date().timeIntervalSince1970 - $0))s ago" } ?? "never"
            func n(_ d: [String: Any], _ k: String) -> String { String((d[k] as? Int) ?? 0) }
            print(Self.row([device.address, last, n(repl, "partitions"), n(repl, "pushed"), n(repl, "handoffPartitions"),
                            n(repl, "failures"), n(snapshot, "asyncPending"), n(snapshot, "quarantined"), n(snapshot, "expired")]))
        }
    }

    /// Columns padded to fixed widths (the first two left-aligned).
    static func row(_ cells: [String]) -> String {
        let widths = [22, 10, 7, 8, 9, 9, 6, 8, 8]
        return cells.enumerated().map { i, c in
            let w = i < widths.count ? widths[i] : 8
            let pad = String(repeating: " ", count: max(0, w - c.count))
            return i < 2 ? c + pad : pad + c
        }.joined(separator: " ")
    }
}
