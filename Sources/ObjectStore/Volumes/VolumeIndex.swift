/// Where each file kept in a device's volumes is: partition → suffix → hash → file name →
/// location, the shape of the `objects/<partition>/<suffix>/<hash>/` tree it stands in for, so
/// the replicator's and auditor's walks by partition and suffix stay cheap. Held in memory and
/// rebuilt from the volumes at start-up (a checkpoint of it is the production step not taken).
struct VolumeIndex {
    /// A file's bytes in a volume.
    struct Location: Sendable, Equatable {
        let volume: Int
        let offset: Int64
        let length: Int64
    }

    private var partitions: [Int: [String: [String: [String: Location]]]] = [:]
    /// Files indexed.
    private(set) var count = 0

    static func suffix(of hash: String) -> String { String(hash.suffix(3)) }

    mutating func put(partition: Int, hash: String, name: String, _ location: Location) {
        let s = Self.suffix(of: hash)
        if partitions[partition, default: [:]][s, default: [:]][hash, default: [:]].updateValue(location, forKey: name) == nil { count += 1 }
    }

    /// Removes a file; answers whether it was indexed.
    @discardableResult
    mutating func remove(partition: Int, hash: String, name: String) -> Bool {
        let s = Self.suffix(of: hash)
        guard partitions[partition]?[s]?[hash]?.removeValue(forKey: name) != nil else { return false }
        count -= 1
        if partitions[partition]?[s]?[hash]?.isEmpty == true { partitions[partition]?[s]?[hash] = nil }
        if partitions[partition]?[s]?.isEmpty == true { partitions[partition]?[s] = nil }
        if partitions[partition]?.isEmpty == true { partitions[partition] = nil }
        return true
    }

    func files(partition: Int, hash: String) -> [String: Location] {
        partitions[partition]?[Self.suffix(of: hash)]?[hash] ?? [:]
    }

    func location(partition: Int, hash: String, name: String) -> Location? {
        partitions[partition]?[Self.suffix(of: hash)]?[hash]?[name]
    }

    func suffixes(partition: Int) -> [String] { partitions[partition].map { Array($0.keys) } ?? [] }

    func hashes(partition: Int, suffix: String) -> [String] { partitions[partition]?[suffix].map { Array($0.keys) } ?? [] }

    var partitionNumbers: [Int] { Array(partitions.keys) }

    /// Every file of a partition (to drop it when a handoff's copy has gone to the primaries).
    func files(partition: Int) -> [(hash: String, name: String)] {
        var out: [(String, String)] = []
        for (_, hashes) in partitions[partition] ?? [:] {
            for (hash, names) in hashes { for name in names.keys { out.append((hash, name)) } }
        }
        return out
    }
}
