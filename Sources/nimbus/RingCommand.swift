import ArgumentParser
import Foundation
import NimbusCore
import Ring

/// `nimbus ring …`: build and inspect rings, in the spirit of `swift-ring-builder`.
struct RingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring", abstract: "Create, change, rebalance and show ring builders.",
        subcommands: [Create.self, Add.self, Remove.self, SetWeight.self, Rebalance.self, Show.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an empty builder file.")
        @Argument(help: "Builder file, e.g. object.builder.json") var builder: String
        @Option(help: "Partition power (2^N partitions).") var partPower: Int
        @Option(help: "Replica count.") var replicas: Int
        @Option(help: "Hours before a moved partition may move again.") var minPartHours: Int = 1
        @Option(help: "Hash path prefix (swift_hash_path_prefix).") var hashPrefix: String = ""
        @Option(help: "Hash path suffix (swift_hash_path_suffix).") var hashSuffix: String = ""

        func run() throws {
            guard !FileManager.default.fileExists(atPath: builder) else { throw ValidationError("\(builder) already exists") }
            let b = try RingBuilder(partPower: partPower, replicas: replicas, minPartHours: minPartHours,
                                    hashPath: HashPathConfig(prefix: hashPrefix, suffix: hashSuffix))
            try b.save(to: builder)
            print("created \(builder): \(1 << partPower) partitions, \(replicas) replicas, min_part_hours \(minPartHours)")
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a device.")
        @Argument var builder: String
        @Option var region: Int = 1
        @Option var zone: Int
        @Option var ip: String
        @Option var port: Int
        @Option var device: String
        @Option var weight: Double
        @Option var meta: String = ""

        func run() throws {
            var b = try RingBuilder.load(from: builder)
            let id = try b.add(RingDevice(id: -1, region: region, zone: zone, ip: ip, port: port, device: device, weight: weight, meta: meta))
            try b.save(to: builder)
            print("device d\(id) r\(region)z\(zone)-\(ip):\(port)/\(device) weight \(weight) added")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a device (its partitions move on rebalance).")
        @Argument var builder: String
        @Option var id: Int

        func run() throws {
            var b = try RingBuilder.load(from: builder)
            try b.remove(id: id)
            try b.save(to: builder)
            print("device d\(id) removed; rebalance to move its partitions")
        }
    }

    struct SetWeight: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-weight", abstract: "Change a device's weight.")
        @Argument var builder: String
        @Option var id: Int
        @Option var weight: Double

        func run() throws {
            var b = try RingBuilder.load(from: builder)
            try b.setWeight(id: id, weight: weight)
            try b.save(to: builder)
            print("device d\(id) weight set to \(weight)")
        }
    }

    struct Rebalance: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rebalance and write the ring file next to the builder.")
        @Argument var builder: String
        @Option(help: "Ring file to write (default: builder name with .ring.json).") var output: String?

        func run() throws {
            var b = try RingBuilder.load(from: builder)
            let report = try b.rebalance()
            try b.save(to: builder)
            let ringPath = output ?? RingCommand.ringPath(for: builder)
            try b.ring().save(to: ringPath)
            print("\(report); wrote \(ringPath)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe a builder.")
        @Argument var builder: String

        func run() throws {
            let b = try RingBuilder.load(from: builder)
            let shares = b.idealShares()
            var counts = [Int](repeating: 0, count: b.devices.count)
            for row in b.assignments { for id in row where id >= 0 { counts[Int(id)] += 1 } }
            print("\(builder): \(b.partitionCount) partitions, \(b.replicas) replicas, min_part_hours \(b.minPartHours), "
                  + "\(b.devices.compactMap { $0 }.count) devices")
            print("  id region zone ip:port/device            weight  partitions  ideal   balance")
            for d in b.devices.compactMap({ $0 }) {
                let ideal = shares[d.id]
                let balance = ideal > 0 ? (Double(counts[d.id]) - ideal) / ideal * 100 : 0
                let addr = "\(d.ip):\(d.port)/\(d.device)".padding(toLength: 26, withPad: " ", startingAt: 0)
                print("  \(d.id)  \(d.region)      \(d.zone)    \(addr) \(d.weight)  \(counts[d.id])  "
                      + String(format: "%.1f  %+.2f%%", ideal, balance))
            }
        }
    }

    static func ringPath(for builder: String) -> String {
        if builder.hasSuffix(".builder.json") { return String(builder.dropLast(".builder.json".count)) + ".ring.json" }
        if builder.hasSuffix(".builder") { return String(builder.dropLast(".builder".count)) + ".ring.json" }
        return builder + ".ring.json"
    }
}
