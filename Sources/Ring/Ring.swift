import Foundation
import NimbusCore

/// A built ring: the read-only table that maps each partition to the devices holding its replicas.
///
/// Saved as `<name>.ring.json` (see docs/ring-format.md). Every proxy and storage node loads the
/// same file; `nodes(account:container:object:)` is the only lookup a request needs.
public struct Ring: Sendable, Equatable {
    public let partPower: Int
    public let replicas: Int
    /// Device table indexed by device id; nil for removed ids.
    public let devices: [RingDevice?]
    /// `assignments[replica][partition]` = device id.
    public let assignments: [[UInt16]]
    /// Hash secrets mixed into every path before the partition is taken.
    public let hashPath: HashPathConfig

    public init(partPower: Int, replicas: Int, devices: [RingDevice?], assignments: [[UInt16]], hashPath: HashPathConfig) {
        self.partPower = partPower
        self.replicas = replicas
        self.devices = devices
        self.assignments = assignments
        self.hashPath = hashPath
    }

    /// Number of partitions (2^partPower).
    public var partitionCount: Int { 1 << partPower }

    /// The partition of a path, as OpenStack Swift's `get_part`: the top `partPower` bits of the
    /// first four bytes of the path hash.
    public func partition(account: String, container: String? = nil, object: String? = nil) -> Int {
        let d = hashPath.digest(account: account, container: container, object: object)
        let top = UInt32(d[0]) << 24 | UInt32(d[1]) << 16 | UInt32(d[2]) << 8 | UInt32(d[3])
        return Int(top >> UInt32(32 - partPower))
    }

    /// The primary devices of a partition, in replica order.
    public func primaries(partition: Int) -> [RingDevice] {
        assignments.compactMap { row in devices[Int(row[partition])] }
    }

    /// The partition and primary devices for an account, container or object.
    public func nodes(account: String, container: String? = nil, object: String? = nil) -> (partition: Int, primaries: [RingDevice]) {
        let part = partition(account: account, container: container, object: object)
        return (part, primaries(partition: part))
    }

    /// Handoff devices for a partition: every non-primary device, those in zones (then regions)
    /// the primaries do not use first, in a per-partition stable order, so that all proxies agree
    /// where a failed primary's writes go.
    public func handoffs(partition: Int) -> HandoffSequence {
        HandoffSequence(ring: self, partition: partition)
    }

    /// Every handoff of `partition`, in the order they are tried: devices in regions, then
    /// zones, the primaries do not use come first; ties are broken by a per-partition shuffle.
    func orderedHandoffs(partition: Int) -> [RingDevice] {
        let primaries = self.primaries(partition: partition)
        let primaryIDs = Set(primaries.map(\.id))
        let usedZones = Set(primaries.map { "\($0.region)/\($0.zone)" })
        let usedRegions = Set(primaries.map(\.region))
        let others = devices.compactMap { $0 }.filter { !primaryIDs.contains($0.id) && $0.weight > 0 }
        return others.map { d in
            ((usedRegions.contains(d.region) ? 1 : 0, usedZones.contains("\(d.region)/\(d.zone)") ? 1 : 0, Self.mix(partition, d.id)), d)
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    private static func mix(_ partition: Int, _ id: Int) -> UInt64 {
        var x = UInt64(truncatingIfNeeded: partition) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: id)
        x ^= x >> 31
        x = x &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 29
        return x
    }

    /// Every device id that holds at least one partition.
    public var activeDevices: [RingDevice] { devices.compactMap { $0 } }
}

/// The handoff devices of one partition, ordered only when the first one is asked for: a
/// request whose primaries all answer never pays for sorting the other devices.
public struct HandoffSequence: Sequence, Sendable {
    let ring: Ring
    let partition: Int

    public struct Iterator: IteratorProtocol {
        let ring: Ring
        let partition: Int
        var ordered: IndexingIterator<[RingDevice]>?

        public mutating func next() -> RingDevice? {
            if ordered == nil { ordered = ring.orderedHandoffs(partition: partition).makeIterator() }
            return ordered?.next()
        }
    }

    public func makeIterator() -> Iterator { Iterator(ring: ring, partition: partition) }
}
