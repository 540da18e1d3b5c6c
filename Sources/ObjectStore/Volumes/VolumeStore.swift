import Foundation
import NimbusCore

/// A device's small objects packed into append-only volume files (`<device>/volumes/v<n>`)
/// instead of one file per object version: the "files" of a hash directory (`<ts>.data`,
/// `.ts`, `.meta`) whose whole image is at most `smallFileLimit` bytes are records in a volume,
/// found through an in-memory `VolumeIndex`. `DiskFile`, `DiskFileWriter` and `SuffixHashes`
/// consult it alongside the directory tree, so reads, last-write-wins, cleanup, suffix hashes,
/// replication and auditing see one set of files either way; larger objects stay plain files.
///
/// A prototype of OVH's LOSF design for OpenStack Swift, switched on per storage node
/// (`objectVolumes`), made to measure what packing buys over one file per object on this
/// hardware (docs/performance.md). Not built: compaction (space of removed records is not
/// reclaimed) and an index checkpoint (start-up replays every volume).
public final class VolumeStore: @unchecked Sendable {
    // @unchecked: `index`, `active`, `volumes` and `lockDescriptor` are only touched with
    // `lock` held; the volumes synchronise their own appends.
    public let devicePath: String
    private let lock = NSLock()
    private var index = VolumeIndex()
    private var volumes: [Int: ObjectVolume] = [:]
    private var active: ObjectVolume

    /// Files up to this size (object bytes + footer) go into volumes.
    public static let smallFileLimit = 1 << 20
    /// A volume takes new records until it is this large; then the next one is started.
    static let volumeLimit: Int64 = 4 << 30

    private static let registry = NSLock()
    nonisolated(unsafe) private static var stores: [String: VolumeStore] = [:]

    /// The store of a device path, when its node keeps small objects in volumes.
    public static func registered(_ devicePath: String) -> VolumeStore? {
        registry.lock()
        defer { registry.unlock() }
        return stores.isEmpty ? nil : stores[devicePath]
    }

    /// Opens (replaying every volume) and registers the store of a device; answers how many
    /// files it indexes, how many bytes of torn tail were cut off and how many damaged bytes
    /// in the middle of a volume were skipped.
    @discardableResult
    public static func open(devicePath: String) throws -> (store: VolumeStore, files: Int, cutBytes: Int64, damagedBytes: Int64) {
        let dir = "\(devicePath)/volumes"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // One process per device's volumes: a second would append over the first's records.
        // A store this process had for the device gives its lock up first (a reopen).
        unregister(devicePath)
        let lockFD = Glibc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lockFD >= 0 else { throw DiskFileError.io("open \(dir): \(String(cString: strerror(errno)))") }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            close(lockFD)
            throw DiskFileError.io("\(dir) is in use by another process")
        }
        var opened = false
        defer { if !opened { close(lockFD) } }
        let numbers = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap { name -> Int? in
            guard name.hasPrefix("v") else { return nil }
            return Int(name.dropFirst())
        }.sorted()
        var index = VolumeIndex()
        var volumes: [Int: ObjectVolume] = [:]
        var cut: Int64 = 0
        var damaged: Int64 = 0
        for n in numbers {
            let (volume, removed, skipped) = try replay(number: n, path: "\(dir)/v\(n)", into: &index)
            volumes[n] = volume
            cut += removed
            damaged += skipped
        }
        let last: ObjectVolume
        if let n = numbers.last, let v = volumes[n], v.size < volumeLimit {
            last = v
        } else {
            let n = (numbers.last ?? 0) + 1
            last = try create(number: n, dir: dir)
            volumes[n] = last
        }
        let store = VolumeStore(devicePath: devicePath, index: index, volumes: volumes, active: last, lockFD: lockFD)
        opened = true
        registry.lock()
        stores[devicePath] = store
        registry.unlock()
        return (store, index.count, cut, damaged)
    }

    /// Forgets a device's store (a node stopping; tests); its lock goes with it. Readers that
    /// still hold one of its volumes keep that volume open until they are done.
    public static func unregister(_ devicePath: String) {
        registry.lock()
        let store = stores.removeValue(forKey: devicePath)
        registry.unlock()
        store?.releaseLock()
    }

    /// The descriptor holding the `flock` of `volumes/` (-1 once released).
    private var lockDescriptor: Int32 = -1

    private init(devicePath: String, index: VolumeIndex, volumes: [Int: ObjectVolume], active: ObjectVolume, lockFD: Int32) {
        self.devicePath = devicePath
        self.index = index
        self.volumes = volumes
        self.active = active
        self.lockDescriptor = lockFD
    }

    deinit { releaseLock() }

    private func releaseLock() {
        lock.lock()
        let fd = lockDescriptor
        lockDescriptor = -1
        lock.unlock()
        releaseFlockAndClose(fd)
    }

    /// Creates volume `number` with a fresh header (flushed, and its name, before any record
    /// in it can be acknowledged).
    private static func create(number: Int, dir: String) throws -> ObjectVolume {
        let path = "\(dir)/v\(number)"
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DiskFileError.io("create \(path): \(String(cString: strerror(errno)))") }
        let header = VolumeHeader.random()
        do {
            try header.encode().withUnsafeBytes { try ObjectVolume.pwriteFully(fd, $0, at: 0) }
            guard fsync(fd) == 0 else { throw DiskFileError.io("fsync \(path)") }
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        AtomicFile.fsyncDirectory(dir)
        return ObjectVolume(number: number, path: path, fd: fd, seed: header.seed, end: Int64(VolumeHeader.size))
    }

    /// Reads a volume's records into `index` (`VolumeReplay`); a torn tail is cut off, damaged
    /// records in the middle skipped. Answers the volume, the bytes cut and the bytes skipped.
    private static func replay(number: Int, path: String, into index: inout VolumeIndex) throws -> (ObjectVolume, Int64, Int64) {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw DiskFileError.io("open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw DiskFileError.io("stat \(path)")
        }
        let size = Int64(st.st_size)
        var headerBytes = [UInt8](repeating: 0, count: VolumeHeader.size)
        let header: VolumeHeader
        if size < Int64(VolumeHeader.size) || (MetadataFooter.preadFully(fd, &headerBytes, offset: 0) && headerBytes.allSatisfy { $0 == 0 }) {
            // Created, but its header never made it to disk: nothing in it was acknowledged.
            header = VolumeHeader.random()
            do {
                _ = ftruncate(fd, 0)
                try header.encode().withUnsafeBytes { try ObjectVolume.pwriteFully(fd, $0, at: 0) }
                guard fsync(fd) == 0 else { throw DiskFileError.io("fsync \(path)") }
            } catch {
                close(fd)
                throw error
            }
            return (ObjectVolume(number: number, path: path, fd: fd, seed: header.seed, end: Int64(VolumeHeader.size)), 0, 0)
        } else if let h = VolumeHeader.decode(headerBytes) {
            header = h
        } else {
            close(fd)
            throw DiskFileError.corrupt("\(path): not a volume (bad header); not opened")
        }
        var replay = VolumeReplay(fd: fd, size: size, seed: header.seed)
        let outcome: VolumeReplay.Outcome
        do {
            outcome = try replay.run { record, bodyOffset in
            switch record.kind {
            case .put:
                index.put(partition: record.partition, hash: record.hash, name: record.name,
                          VolumeIndex.Location(volume: number, offset: bodyOffset, length: record.bodyLength))
            case .remove:
                index.remove(partition: record.partition, hash: record.hash, name: record.name)
            }
            }
        } catch {
            // A read error is not the end of the volume: nothing is cut, the device is not opened.
            close(fd)
            throw error
        }
        let offset = outcome.end
        // What follows the last whole record is cut off: zeros written ahead (not counted) and
        // any record a crash left unfinished (counted).
        let cut = nonZeroBytes(fd: fd, from: offset, to: size)
        if size > offset { _ = ftruncate(fd, off_t(offset)) }
        return (ObjectVolume(number: number, path: path, fd: fd, seed: header.seed, end: offset), cut, outcome.damaged)
    }

    /// How many bytes of `fd` in `from..<to` are not zero (stopping at the last non-zero one).
    private static func nonZeroBytes(fd: Int32, from: Int64, to: Int64) -> Int64 {
        var last: Int64 = from
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var at = from
        while at < to {
            let want = Int(min(Int64(buffer.count), to - at))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(at)) }
            if n <= 0 { break }
            if let i = buffer[0..<n].lastIndex(where: { $0 != 0 }) { last = at + Int64(i) + 1 }
            at += Int64(n)
        }
        return last - from
    }

    // MARK: - Files

    /// The files a hash directory has in volumes (name → location).
    func files(partition: Int, hash: String) -> [String: VolumeIndex.Location] {
        lock.lock()
        defer { lock.unlock() }
        return index.files(partition: partition, hash: hash)
    }

    func location(partition: Int, hash: String, name: String) -> VolumeIndex.Location? {
        lock.lock()
        defer { lock.unlock() }
        return index.location(partition: partition, hash: hash, name: name)
    }

    func suffixes(partition: Int) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return index.suffixes(partition: partition)
    }

    func hashes(partition: Int, suffix: String) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return index.hashes(partition: partition, suffix: suffix)
    }

    /// Every (partition, hash) with files in volumes (the auditor's walk).
    public func allHashes() -> [(partition: Int, hash: String)] {
        lock.lock()
        defer { lock.unlock() }
        var out: [(Int, String)] = []
        for p in index.partitionNumbers {
            for s in index.suffixes(partition: p) { for h in index.hashes(partition: p, suffix: s) { out.append((p, h)) } }
        }
        return out
    }

    /// The names of the files a hash directory has in volumes.
    public func names(partition: Int, hash: String) -> [String] {
        Array(files(partition: partition, hash: hash).keys)
    }

    /// Where a file's image is (volume file path, offset, length), for tools and tests.
    public func place(partition: Int, hash: String, name: String) -> (path: String, offset: Int64, length: Int64)? {
        lock.lock()
        defer { lock.unlock() }
        guard let at = index.location(partition: partition, hash: hash, name: name), let v = volumes[at.volume] else { return nil }
        return (v.path, at.offset, at.length)
    }

    /// Files indexed.
    public var fileCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return index.count
    }

    /// The volume a location is in (readers `pread` its descriptor and keep it alive).
    func volume(of location: VolumeIndex.Location) -> ObjectVolume? {
        lock.lock()
        defer { lock.unlock() }
        return volumes[location.volume]
    }

    /// Puts a file (its whole image) into the active volume and returns once it is durable
    /// (group commit). Fails with `.exists` when the hash directory already has the name.
    func put(partition: Int, hash: String, name: String, image: UnsafeRawBufferPointer) throws {
        guard hash.utf8.count <= 255, name.utf8.count <= 65_535 else { throw DiskFileError.io("name too long for a volume record") }
        guard Int64(image.count) <= VolumeRecord.maxBodyLength else { throw DiskFileError.io("file too large for a volume") }
        let record = VolumeRecord(kind: .put, partition: partition, hash: hash, name: name, bodyLength: Int64(image.count))
        lock.lock()
        if index.location(partition: partition, hash: hash, name: name) != nil {
            lock.unlock()
            throw DiskFileError.exists
        }
        let volume = active
        lock.unlock()
        let head = record.encodeHead(body: image, seed: volume.seed)
        let (bodyOffset, end) = try volume.append(head: head, body: image)
        try volume.sync(upTo: end)
        lock.lock()
        index.put(partition: partition, hash: hash, name: name,
                  VolumeIndex.Location(volume: volume.number, offset: bodyOffset, length: Int64(image.count)))
        if active === volume && end >= Self.volumeLimit {
            // Under the lock, so one writer starts the next volume. The file is durable and
            // indexed already: a failure here is retried by the next put, not this one's error.
            if let next = try? Self.create(number: volumes.keys.max().map { $0 + 1 } ?? 1, dir: "\(devicePath)/volumes") {
                active = next
                volumes[next.number] = next
            }
        }
        lock.unlock()
    }

    /// Removes a file; answers false when the volumes do not have it. The removal record is
    /// not flushed: lost in a crash, the file comes back and the next cleanup removes it again
    /// (it is only ever removed because a newer one makes it obsolete).
    @discardableResult
    func remove(partition: Int, hash: String, name: String) -> Bool {
        removeAndTellWhere(partition: partition, hash: hash, name: name) != nil
    }

    /// Removes a file; answers the volume and offset its removal record ends at (nil: not kept here).
    private func removeAndTellWhere(partition: Int, hash: String, name: String) -> (ObjectVolume, Int64)? {
        // The record is appended with the store's lock held: a put of the same name (a file
        // quarantined and pushed back by a peer) waits for the exists check until the removal
        // is in the volume, so a replay never sees put, put, remove.
        lock.lock()
        defer { lock.unlock() }
        guard index.remove(partition: partition, hash: hash, name: name) else { return nil }
        let volume = active
        let head = VolumeRecord(kind: .remove, partition: partition, hash: hash, name: name, bodyLength: 0).encodeHead(body: nil, seed: volume.seed)
        guard let (_, end) = try? volume.append(head: head, body: nil) else { return nil }
        return (volume, end)
    }

    /// Drops every file of a partition (a handoff partition whose files the primaries now have).
    /// The removals are flushed before this returns: the caller then removes the partition's
    /// directory, and a crash must not bring back files whose directory is gone.
    public func dropPartition(_ partition: Int) throws {
        lock.lock()
        let files = index.files(partition: partition)
        lock.unlock()
        var last: (ObjectVolume, Int64)?
        for (hash, name) in files {
            if let at = removeAndTellWhere(partition: partition, hash: hash, name: name) { last = at }
        }
        if let (volume, end) = last { try volume.sync(upTo: end) }
    }

    /// Partitions with files in volumes (the replicator walks them with the directories).
    public var partitions: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return index.partitionNumbers
    }
}
