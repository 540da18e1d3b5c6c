import Foundation
import NimbusCore

/// A device's queue of objects with an `X-Delete-At`: one empty file per object version,
/// named `<delete-at, 10 digits>-<partition>-<hash>` under `<device>/expiring/`, so the
/// expirer finds what is due by name alone, in time order.
///
/// An entry only says "look at this object then": the expirer deletes the object only if its
/// current `X-Delete-At` is still that time (a later PUT or POST may have changed it).
public struct ExpiringObjects: Sendable {
    public struct Entry: Sendable, Equatable {
        public let deleteAt: Int64
        public let partition: Int
        public let hash: String

        var fileName: String {
            let t = String(deleteAt)
            return String(repeating: "0", count: max(0, 10 - t.count)) + t + "-\(partition)-\(hash)"
        }

        init?(fileName: String) {
            let parts = fileName.split(separator: "-")
            guard parts.count == 3, let at = Int64(parts[0]), let part = Int(parts[1]), parts[2].count == 32 else { return nil }
            deleteAt = at
            partition = part
            hash = String(parts[2])
        }

        public init(deleteAt: Int64, partition: Int, hash: String) {
            self.deleteAt = deleteAt
            self.partition = partition
            self.hash = hash
        }
    }

    public let devicePath: String
    var directory: String { "\(devicePath)/expiring" }

    public init(devicePath: String) { self.devicePath = devicePath }

    /// Records that the object `hash` in `partition` expires at `deleteAt`.
    public func add(_ entry: Entry) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(entry.fileName)"
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DiskFileError.io("create \(path): \(String(cString: strerror(errno)))") }
        close(fd)
    }

    /// Entries due at `now` (oldest first), at most `limit`.
    public func due(now: Int64, limit: Int = 10_000) -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.compactMap(Entry.init(fileName:)).filter { $0.deleteAt <= now }
            .sorted { ($0.deleteAt, $0.hash) < ($1.deleteAt, $1.hash) }.prefix(limit).map { $0 }
    }

    /// Drops an entry once handled.
    public func remove(_ entry: Entry) {
        unlink("\(directory)/\(entry.fileName)")
    }
}
