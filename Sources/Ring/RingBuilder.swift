import Foundation
import NimbusCore

/// Builds and rebalances a ring, in the spirit of `swift-ring-builder`.
///
/// Placement rules, in order: never two replicas of a partition on one device; spread a
/// partition's replicas over as many regions, then zones, as exist; give each device a share of
/// partition-replicas proportional to its weight. A later rebalance only moves what it must:
/// replicas on removed or drained devices, and the surplus of devices holding more than their
/// share, at most one replica of a partition per rebalance and only if that partition has not
/// moved within `minPartHours`.
public struct RingBuilder: Codable, Sendable {
    public private(set) var partPower: Int
    public private(set) var replicas: Int
    public var minPartHours: Int
    /// Indexed by device id; nil once a device is removed (ids are never reused).
    public private(set) var devices: [RingDevice?]
    /// `assignments[replica][partition]`, -1 while unassigned.
    public private(set) var assignments: [[Int32]]
    /// Hours since the epoch when each partition last moved.
    public private(set) var lastMoved: [Int32]
    public var hashPath: HashPathConfig
    /// Seed for the placement order, so a rebalance is reproducible.
    public var seed: UInt64

    /// Creates an empty builder.
    public init(partPower: Int, replicas: Int, minPartHours: Int, hashPath: HashPathConfig, seed: UInt64 = 1) throws {
        guard (1...24).contains(partPower) else { throw RingError.invalid("partition power must be 1...24") }
        guard replicas >= 1 else { throw RingError.invalid("replicas must be at least 1") }
        self.partPower = partPower
        self.replicas = replicas
        self.minPartHours = minPartHours
        self.devices = []
        self.assignments = []
        self.lastMoved = []
        self.hashPath = hashPath
        self.seed = seed
    }

    public var partitionCount: Int { 1 << partPower }

    /// Adds a device and returns its id (the next free id unless `id` is given).
    @discardableResult
    public mutating func add(_ device: RingDevice) throws -> Int {
        let id = device.id >= 0 ? device.id : devices.count
        if id < devices.count, devices[id] != nil { throw RingError.invalid("device id \(id) already in use") }
        if devices.contains(where: { $0?.ip == device.ip && $0?.port == device.port && $0?.device == device.device }) {
            throw RingError.invalid("device \(device.ip):\(device.port)/\(device.device) already in the ring")
        }
        guard device.weight >= 0 else { throw RingError.invalid("weight must not be negative") }
        while devices.count <= id { devices.append(nil) }
        var d = device
        d.id = id
        devices[id] = d
        return id
    }

    /// Removes a device; its partitions move on the next rebalance.
    public mutating func remove(id: Int) throws {
        guard id < devices.count, devices[id] != nil else { throw RingError.invalid("no device with id \(id)") }
        devices[id] = nil
    }

    /// Changes a device's weight; takes effect on the next rebalance.
    public mutating func setWeight(id: Int, weight: Double) throws {
        guard id < devices.count, devices[id] != nil else { throw RingError.invalid("no device with id \(id)") }
        guard weight >= 0 else { throw RingError.invalid("weight must not be negative") }
        devices[id]!.weight = weight
    }

    /// The outcome of a rebalance.
    public struct Report: Sendable, CustomStringConvertible {
        /// Partition-replicas that changed device.
        public var moved: Int
        /// Partition-replicas placed for the first time.
        public var placed: Int
        /// Largest deviation of a device from its ideal share, in percent.
        public var balance: Double

        public var description: String {
            "moved \(moved) partition-replicas, placed \(placed), balance \(String(format: "%.2f", balance))%"
        }
    }

    /// Ideal number of partition-replicas per device id (0 for removed or weightless devices).
    public func idealShares() -> [Double] {
        let active = devices.compactMap { $0 }.filter { $0.weight > 0 }
        let total = active.reduce(0) { $0 + $1.weight }
        var shares = [Double](repeating: 0, count: devices.count)
        guard total > 0 else { return shares }
        let slots = Double(partitionCount * replicas)
        // A device can hold each partition at most once: cap and redistribute the excess.
        var capped = Set<Int>()
        while true {
            let free = active.filter { !capped.contains($0.id) }
            let freeWeight = free.reduce(0) { $0 + $1.weight }
            let remaining = slots - Double(capped.count * partitionCount)
            var changed = false
            for d in free {
                let share = remaining * d.weight / freeWeight
                if share > Double(partitionCount) {
                    capped.insert(d.id)
                    changed = true
                }
                shares[d.id] = min(share, Double(partitionCount))
            }
            for id in capped { shares[id] = Double(partitionCount) }
            if !changed { break }
        }
        return shares
    }

    /// Reassigns partitions; see the type's documentation for the rules.
    @discardableResult
    public mutating func rebalance(now: Date = Date()) throws -> Report {
        let active = devices.compactMap { $0 }.filter { $0.weight > 0 }
        guard active.count >= replicas else {
            throw RingError.invalid("\(replicas) replicas need at least \(replicas) devices with weight; have \(active.count)")
        }
        let parts = partitionCount
        let hour = Int32(now.timeIntervalSince1970 / 3600)
        if assignments.isEmpty {
            assignments = Array(repeating: Array(repeating: -1, count: parts), count: replicas)
            lastMoved = Array(repeating: Int32.min / 2, count: parts)
        }
        let shares = idealShares()
        var counts = [Int](repeating: 0, count: devices.count)
        var rng = SplitMix64(seed: seed)
        var touched = [Bool](repeating: false, count: parts)
        var unassignedBefore = 0
        var freed = 0

        // 1. Free replicas on removed or drained devices (min_part_hours does not protect them).
        for r in 0..<replicas {
            for p in 0..<parts {
                let id = Int(assignments[r][p])
                if id < 0 { unassignedBefore += 1; continue }
                if id >= devices.count || devices[id] == nil || devices[id]!.weight <= 0 {
                    assignments[r][p] = -1
                    touched[p] = true
                    freed += 1
                } else {
                    counts[id] += 1
                }
            }
        }

        // 2. Free the surplus of over-full devices, preferring replicas that share a zone with
        //    another replica of the same partition (they improve dispersion when moved).
        let moved = lastMoved
        let minHours = Int32(minPartHours)
        func canMove(_ p: Int) -> Bool { !touched[p] && hour - moved[p] >= minHours }
        for d in active where Double(counts[d.id]) > shares[d.id].rounded(.up) {
            var surplus = counts[d.id] - Int(shares[d.id].rounded(.up))
            var candidates: [(Int, Int, Bool)] = []  // (replica, partition, zone-duplicated)
            for r in 0..<replicas {
                for p in 0..<parts where Int(assignments[r][p]) == d.id && canMove(p) {
                    let dup = (0..<replicas).contains { r2 in
                        r2 != r && assignments[r2][p] >= 0 && devices[Int(assignments[r2][p])]!.zone == d.zone
                            && devices[Int(assignments[r2][p])]!.region == d.region
                    }
                    candidates.append((r, p, dup))
                }
            }
            candidates.shuffle(using: &rng)
            candidates.sort { $0.2 && !$1.2 }
            for (r, p, _) in candidates where surplus > 0 && canMove(p) {
                assignments[r][p] = -1
                touched[p] = true
                counts[d.id] -= 1
                surplus -= 1
                freed += 1
            }
        }

        // 3. Place every free slot: distinct device, then unused region, unused zone, most wanted.
        var order = Array(0..<parts)
        order.shuffle(using: &rng)
        for p in order {
            for r in 0..<replicas where assignments[r][p] < 0 {
                let holders = (0..<replicas).compactMap { assignments[$0][p] >= 0 ? devices[Int(assignments[$0][p])] : nil }
                let ids = Set(holders.map(\.id))
                let zones = Set(holders.map { "\($0.region)/\($0.zone)" })
                let regions = Set(holders.map(\.region))
                var best: RingDevice?
                var bestKey: (Int, Int, Double) = (Int.max, Int.max, -Double.infinity)
                for d in active where !ids.contains(d.id) {
                    let key = (regions.contains(d.region) ? 1 : 0, zones.contains("\(d.region)/\(d.zone)") ? 1 : 0,
                               (shares[d.id] - Double(counts[d.id])) / max(shares[d.id], 1e-9))
                    if key.0 < bestKey.0 || (key.0 == bestKey.0 && (key.1 < bestKey.1 || (key.1 == bestKey.1 && key.2 > bestKey.2))) {
                        best = d
                        bestKey = key
                    }
                }
                guard let chosen = best else { throw RingError.invalid("no device available for partition \(p)") }
                assignments[r][p] = Int32(chosen.id)
                counts[chosen.id] += 1
                lastMoved[p] = hour
            }
        }

        var worst = 0.0
        for d in active where shares[d.id] > 0 {
            worst = max(worst, abs(Double(counts[d.id]) - shares[d.id]) / shares[d.id] * 100)
        }
        let placedNew = unassignedBefore
        return Report(moved: freed, placed: placedNew, balance: worst)
    }

    /// The ring to ship to nodes.
    public func ring() throws -> Ring {
        guard !assignments.isEmpty, !assignments.contains(where: { $0.contains(-1) }) else {
            throw RingError.invalid("ring has unassigned partitions; rebalance first")
        }
        return Ring(partPower: partPower, replicas: replicas, devices: devices,
                    assignments: assignments.map { $0.map { UInt16($0) } }, hashPath: hashPath)
    }

    /// Saves the builder (`*.builder.json`).
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: path)
    }

    /// Loads a builder written by `save(to:)`.
    public static func load(from path: String) throws -> RingBuilder {
        try JSONDecoder().decode(RingBuilder.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// A small seeded generator so that rebalances are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
