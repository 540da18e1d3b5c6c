import Foundation

/// Per-partition bookkeeping of which suffix directories changed since the replicator last
/// hashed them (OpenStack Swift's `hashes.invalid`): every write appends the suffix to
/// `objects/<part>/hashes.invalid`.
public enum SuffixHashes {
    static func invalidate(diskFile: DiskFile) {
        let path = "\(diskFile.devicePath)/objects/\(diskFile.partition)/hashes.invalid"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let line = diskFile.suffix + "\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
}
