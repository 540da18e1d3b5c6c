import Foundation
import Gzip

/// The local archive cache of one target (duplicity's `--archive-dir`/`<name>`): every
/// manifest plain, every signature tar gzipped and decrypted, `.part` records of an
/// interrupted run, and a `lockfile`.
///
/// The target is authoritative: `sync` fetches what the cache lacks and moves aside into
/// `orphaned/` what the target no longer has (duplicity deletes those; moving keeps a
/// mistake recoverable).
public final class ArchiveCache {
    public let directory: String
    private var lockFD: Int32 = -1

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { unlock() }

    /// Directories this process holds: POSIX record locks do not conflict within a process.
    private static let held = HeldDirectories()

    /// Releases the lock (also released when the cache is dropped).
    public func unlock() {
        guard lockFD >= 0 else { return }
        close(lockFD)
        lockFD = -1
        Self.held.release(directory)
    }

    /// Takes the cache's lock for this process (released by `unlock` or when the cache is dropped).
    /// A POSIX record lock on `lockfile`, as duplicity's (fasteners' `lockf`) — not `flock`,
    /// whose lock a forked child that never execs (libvirt forks helpers so) keeps holding
    /// after we close our descriptor.
    public func lock() throws {
        guard lockFD < 0 else { return }
        let busy = BackupError("Another instance is already running with this archive directory (\(directory))")
        guard Self.held.claim(directory) else { throw busy }
        let fd = open("\(directory)/lockfile", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            Self.held.release(directory)
            throw BackupError("cannot open \(directory)/lockfile: \(String(cString: strerror(errno)))")
        }
        var record = Glibc.flock()
        record.l_type = Int16(F_WRLCK)
        record.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_SETLK, &record) == 0 else {
            close(fd)
            Self.held.release(directory)
            throw busy
        }
        lockFD = fd
    }

    /// The cache's name for a target's metadata file: manifests plain, sigtars `.gz`.
    static func localName(_ remote: String) -> String? {
        guard let f = BackupFileName.parse(remote) else { return nil }
        switch f.kind {
        case .fullManifest, .incManifest:
            return BackupFileName(kind: f.kind, time: f.time, previousTime: f.previousTime).name
        case .fullSignatures, .newSignatures:
            return BackupFileName(kind: f.kind, time: f.time, previousTime: f.previousTime, compressed: true).name
        default:
            return nil
        }
    }

    /// The cached copy of a target's metadata file, if there is one.
    func path(of remote: String) -> String? {
        guard let local = Self.localName(remote), access("\(directory)/\(local)", R_OK) == 0 else { return nil }
        return "\(directory)/\(local)"
    }

    public struct SyncReport: Sendable {
        public var fetched: [String] = []
        public var orphaned: [String] = []
    }

    /// Makes the cache match the target's metadata (see the type's comment).
    @discardableResult
    public func sync(with backend: any BackupBackend, gpg: GPG?, work: String) async throws -> SyncReport {
        var report = SyncReport()
        let remote = try await backend.list()
        var wanted: [String: String] = [:]  // local name → remote name
        for name in remote {
            if let local = Self.localName(name) { wanted[local] = name }
        }
        let present = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in present where BackupFileName.parse(name) != nil && wanted[name] == nil {
            let orphans = "\(directory)/orphaned"
            try FileManager.default.createDirectory(atPath: orphans, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: "\(orphans)/\(name)")
            try FileManager.default.moveItem(atPath: "\(directory)/\(name)", toPath: "\(orphans)/\(name)")
            report.orphaned.append(name)
        }
        for (local, name) in wanted.sorted(by: { $0.key < $1.key }) where !present.contains(local) {
            try await fetch(name, as: local, from: backend, gpg: gpg, work: work)
            report.fetched.append(local)
        }
        return report
    }

    /// Copies one metadata file into the cache in the cache's form.
    private func fetch(_ name: String, as local: String, from backend: any BackupBackend, gpg: GPG?, work: String) async throws {
        var file = try await backend.localFile(name, downloadingTo: "\(work)/cache-fetch")
        var temporary: [String] = file == "\(work)/cache-fetch" ? [file] : []
        defer { for t in temporary { unlink(t) } }
        if name.hasSuffix(".gpg") {
            guard let gpg else { throw BackupError("the backup is encrypted: set PASSPHRASE (or give the key) to read \(name)") }
            try await gpg.decrypt(file, to: "\(work)/cache-plain")
            file = "\(work)/cache-plain"
            temporary.append(file)
        }
        let staged = "\(directory)/.\(local).tmp"
        if local.hasSuffix(".gz") && !name.hasSuffix(".gz") {
            // Signatures arrive as a plain tar (inside gpg, or --no-compression): gzip them.
            let out = try TarGzFile(path: staged, compress: true)
            try Restorer.forEachBlock(of: file, gunzip: false) { try out.write($0) }
            _ = try out.finish(endArchive: false)
        } else {
            try? FileManager.default.removeItem(atPath: staged)
            try FileManager.default.copyItem(atPath: file, toPath: staged)
        }
        guard rename(staged, "\(directory)/\(local)") == 0 else { throw BackupError("cannot write \(directory)/\(local)") }
    }
}

/// The archive directories this process has locked.
// @unchecked Sendable: every access to `members` holds `lock`.
private final class HeldDirectories: @unchecked Sendable {
    private let lock = NSLock()
    private var members = Set<String>()

    func claim(_ directory: String) -> Bool { lock.withLock { members.insert(directory).inserted } }
    func release(_ directory: String) { lock.withLock { _ = members.remove(directory) } }
}
