/// A compute host as its worker reports it (capacity left, liveness).
public struct HostReport: Sendable, Equatable {
    public var name: String
    public var zone: String
    public var freeMemoryMiB: Int
    public var freeVCPUs: Int
    public var freeDiskGiB: Int
    public var instances: Int
    /// Seconds since the epoch of the worker's last heartbeat.
    public var heartbeat: Double

    public init(name: String, zone: String, freeMemoryMiB: Int, freeVCPUs: Int, freeDiskGiB: Int, instances: Int, heartbeat: Double) {
        self.name = name
        self.zone = zone
        self.freeMemoryMiB = freeMemoryMiB
        self.freeVCPUs = freeVCPUs
        self.freeDiskGiB = freeDiskGiB
        self.instances = instances
        self.heartbeat = heartbeat
    }

    func fits(_ f: Flavor) -> Bool { freeMemoryMiB >= f.memoryMiB && freeVCPUs >= f.vcpus && freeDiskGiB >= f.diskGiB }
}

/// Where instances go: live hosts (heartbeat within `heartbeatTimeout`) of the wanted zone
/// with room for the flavor, least loaded first (most free memory, then fewest instances), each
/// placement taking its share of the host before the next is placed.
public enum Scheduler {
    public struct NoCapacity: Error, Equatable, CustomStringConvertible {
        public let placed: Int
        public let wanted: Int

        public init(placed: Int, wanted: Int) {
            self.placed = placed
            self.wanted = wanted
        }

        public var description: String {
            "There is not enough capacity for \(wanted) instance(s) of this type (room for \(placed))."
        }
    }

    /// Hosts for `maxCount` instances, or as many as fit if at least `minCount` do.
    public static func place(_ flavor: Flavor, minCount: Int, maxCount: Int, zone: String?, hosts: [HostReport], now: Double,
                             heartbeatTimeout: Double = 60) throws(NoCapacity) -> [String] {
        var candidates = hosts.filter { now - $0.heartbeat <= heartbeatTimeout && (zone == nil || $0.zone == zone) }
        var placed: [String] = []
        while placed.count < maxCount {
            let best = candidates.indices.filter { candidates[$0].fits(flavor) }.min { a, b in
                let x = candidates[a], y = candidates[b]
                if x.freeMemoryMiB != y.freeMemoryMiB { return x.freeMemoryMiB > y.freeMemoryMiB }
                if x.instances != y.instances { return x.instances < y.instances }
                return x.name < y.name
            }
            guard let i = best else { break }
            placed.append(candidates[i].name)
            candidates[i].freeMemoryMiB -= flavor.memoryMiB
            candidates[i].freeVCPUs -= flavor.vcpus
            candidates[i].freeDiskGiB -= flavor.diskGiB
            candidates[i].instances += 1
        }
        guard placed.count >= max(1, minCount) else { throw NoCapacity(placed: placed.count, wanted: minCount) }
        return placed
    }
}
