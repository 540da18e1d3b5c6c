import Digest
import Foundation
import NimbusCore

/// Per-partition suffix hashes (OpenStack Swift's `hashes.pkl` + `hashes.invalid`).
///
/// Every write appends its suffix to `objects/<part>/hashes.invalid` under an exclusive
/// `flock`; the replicator, under the same lock, folds those suffixes into
/// `objects/<part>/hashes.json` by rehashing them. A suffix hash is the MD5 of the names of
/// every file in every object directory of the suffix, so two replicas agree exactly when
/// they hold the same versions.
public enum SuffixHashes {
    static func invalidate(diskFile: DiskFile) {
        let partDir = "\(diskFile.devicePath)/objects/\(diskFile.partition)"
        let path = "\(partDir)/hashes.invalid"
        var fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            // A file kept in a volume has no hash directory that made the partition's.
            ensurePartitionDirectory(partDir)
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { return }
        defer { close(fd) }
        flock(fd, LOCK_EX)
        let line = diskFile.suffix + "\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
    }

    /// The partition's suffix hashes, rehashing the invalidated suffixes, those in `recalculate`,
    /// and any suffix directory not hashed yet. Tombstones older than `reclaimAge` seconds (as
    /// of `now`) are removed on the way.
    public static func hashes(devicePath: String, partition: Int, recalculate: [String] = [], reclaimAge: Double,
                              now: Double) throws -> [String: String] {
        let partDir = "\(devicePath)/objects/\(partition)"
        let invalidPath = "\(partDir)/hashes.invalid"
        let jsonPath = "\(partDir)/hashes.json"
        var stale = Set(recalculate)
        // One consolidation of a partition at a time (the replicator's and a peer's REPLICATE
        // can ask at once): the partition directory's own lock, held until hashes.json is
        // written, so neither writes over the other's result with a stale copy of it (an
        // invalidation one of them consumed would be lost). Writers only take the lock of
        // hashes.invalid, never this one.
        if VolumeStore.registered(devicePath) != nil && access(partDir, F_OK) != 0 { ensurePartitionDirectory(partDir) }
        let partitionLock = open(partDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if partitionLock >= 0 { flock(partitionLock, LOCK_EX) }
        defer { releaseFlockAndClose(partitionLock) }
        // Take the invalidations under the writers' lock, then truncate them.
        let fd = open(invalidPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd >= 0 {
            flock(fd, LOCK_EX)
            var st = stat()
            if fstat(fd, &st) == 0 && st.st_size > 0 {
                var buf = [UInt8](repeating: 0, count: Int(st.st_size))
                let n = pread(fd, &buf, buf.count, 0)
                if n > 0 {
                    for line in String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n") { stale.insert(String(line)) }
                }
                ftruncate(fd, 0)
            }
            close(fd)
        }
        var hashes: [String: String] = [:]
        if let data = FileManager.default.contents(atPath: jsonPath),
           let stored = try? JSONDecoder().decode([String: String].self, from: data) {
            hashes = stored
        }
        var suffixes = Set(((try? FileManager.default.contentsOfDirectory(atPath: partDir)) ?? []).filter {
            $0.count == 3 && $0.allSatisfy(\.isHexDigit)
        })
        if let volumes = VolumeStore.registered(devicePath) { suffixes.formUnion(volumes.suffixes(partition: partition)) }
        var changed = false
        for suffix in hashes.keys where !suffixes.contains(suffix) {
            hashes[suffix] = nil
            changed = true
        }
        for suffix in suffixes where hashes[suffix] == nil || stale.contains(suffix) {
            let h = hashSuffix(partDir: partDir, suffix: suffix, devicePath: devicePath, partition: partition,
                               reclaimAge: reclaimAge, now: now)
            if let h { hashes[suffix] = h } else { hashes[suffix] = nil }
            changed = true
        }
        if changed {
            let data = try JSONEncoder().encode(hashes)
            try AtomicFile.write(data, to: jsonPath)
        }
        return hashes
    }

    /// MD5 of the suffix's file names (after cleanup); nil when the suffix is now empty (removed).
    static func hashSuffix(partDir: String, suffix: String, devicePath: String, partition: Int, reclaimAge: Double, now: Double) -> String? {
        let suffixDir = "\(partDir)/\(suffix)"
        let hashDirs = hashes(devicePath: devicePath, partition: partition, suffix: suffix)
        var md5 = MessageDigest(.md5)
        var any = false
        for hash in hashDirs {
            let file = DiskFile(devicePath: devicePath, partition: partition, hash: hash)
            file.cleanup()
            let listing = file.listing()
            // A tombstone alone, older than the reclaim age, has done its job everywhere.
            if listing.count == 1, listing[0].1 == "ts", listing[0].0.seconds < now - reclaimAge {
                file.remove(listing[0].2)
            }
            let names = file.names().sorted()
            if names.isEmpty {
                rmdir(file.directory)
                continue
            }
            any = true
            md5.update(Array(hash.utf8))
            for name in names { md5.update(Array(name.utf8)) }
        }
        guard any else {
            rmdir(suffixDir)
            return nil
        }
        return md5.finalizeHexAndReset()
    }

    /// The object directories of a suffix and their file names (what a replica tells a peer).
    public static func listing(devicePath: String, partition: Int, suffix: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for hash in hashes(devicePath: devicePath, partition: partition, suffix: suffix) {
            let names = DiskFile(devicePath: devicePath, partition: partition, hash: hash).listing().map(\.2)
            if !names.isEmpty { out[hash] = names }
        }
        return out
    }

    /// The object hashes of a suffix: its hash directories and the hashes with files in volumes.
    static func hashes(devicePath: String, partition: Int, suffix: String) -> [String] {
        var hashes = Set(DirectoryNames.list("\(devicePath)/objects/\(partition)/\(suffix)"))
        if let volumes = VolumeStore.registered(devicePath) { hashes.formUnion(volumes.hashes(partition: partition, suffix: suffix)) }
        return hashes.sorted()
    }

    /// Creates a partition's directory and makes its name durable (the replicator finds
    /// partitions by their directories).
    static func ensurePartitionDirectory(_ partDir: String) {
        try? FileManager.default.createDirectory(atPath: partDir, withIntermediateDirectories: true)
        AtomicFile.fsyncDirectory((partDir as NSString).deletingLastPathComponent)
    }
}
