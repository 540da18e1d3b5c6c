import Digest
import Foundation
import Gzip
import Rsync
import Tar

/// Restores a duplicity chain (ours or duplicity's) into a directory.
///
/// The sets a restore at time T needs are replayed in order: each volume is fetched, its SHA1
/// checked against the manifest, un-gzipped and read as tar; `snapshot/` entries replace
/// what is there, `diff/` entries are librsync deltas patched onto the file restored so far,
/// `deleted/` entries remove, and `multivol_*` chunks are joined (across volumes) first.
/// Metadata (mode, owner, mtime) is applied as each entry lands; directory times at the end.
public final class Restorer {
    public struct Options {
        public var time: Int64?
        /// Restore only this path (file or directory, relative to the backup root) into the target.
        public var fileToRestore: String?
        public var numericOwner = false
        /// For encrypted (`.gpg`) sets.
        public var gpg: GPG?
        public init() {}
    }

    public struct Result: Sendable {
        public var files = 0
        public var bytes: Int64 = 0
        public var setsApplied = 0
        public var volumes = 0
    }

    let backend: any BackupBackend
    let target: String
    let options: Options
    let work: String
    private var pending: Pending?
    private var directoryTimes: [String: Double] = [:]
    private var result = Result()

    /// A file being assembled from multivol chunks (content or delta).
    struct Pending {
        let path: String
        let entry: TarEntry
        let isDiff: Bool
        let temp: String
        let fd: Int32
    }

    public init(backend: any BackupBackend, target: String, options: Options) throws {
        self.backend = backend
        // Relative targets are resolved now: entries are placed by absolute paths.
        self.target = target.hasPrefix("/") ? target : FileManager.default.currentDirectoryPath + "/" + target
        self.options = options
        work = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-restore-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: work) }

    public func run() async throws -> Result {
        let collection = BackupCollection(names: try await backend.list())
        let time = options.time ?? Int64.max
        guard let chain = collection.chain(for: time) else { throw BackupError("no backup chain found on the target") }
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for set in chain.sets(upTo: time) {
            try await apply(set)
            result.setsApplied += 1
        }
        try finishPending()
        // Directory times last: writing their contents changed them.
        for (path, mtime) in directoryTimes.sorted(by: { $0.key.count > $1.key.count }) { setTimes(path, mtime, symlink: false) }
        return result
    }

    private func apply(_ set: BackupSet) async throws {
        if set.encrypted && options.gpg == nil { throw BackupError("the backup is encrypted: set PASSPHRASE") }
        guard let manifestName = set.manifest else { throw BackupError("set \(DuplicityTime.format(set.time)) has no manifest") }
        let manifestPath = "\(work)/manifest"
        try await backend.get(manifestName, to: manifestPath)
        if manifestName.hasSuffix(".gpg"), let gpg = options.gpg {
            try gpg.decrypt(manifestPath, to: manifestPath + ".plain")
            try FileManager.default.removeItem(atPath: manifestPath)
            try FileManager.default.moveItem(atPath: manifestPath + ".plain", toPath: manifestPath)
        }
        let manifest = try Manifest(parsing: String(decoding: try Data(contentsOf: URL(fileURLWithPath: manifestPath)), as: UTF8.self))
        for volume in manifest.volumes {
            guard let name = set.volumes[volume.number] else { throw BackupError("missing volume \(volume.number) of set \(manifestName)") }
            if let only = options.fileToRestore, !Self.volume(volume, mayHold: only) { continue }
            let local = "\(work)/vol"
            try await backend.get(name, to: local)
            if let (alg, expected) = volume.hash, alg == "SHA1" {
                let actual = try Self.sha1(local)
                guard actual == expected else { throw BackupError("Invalid data - SHA1 hash mismatch for file: \(name) (expected \(expected), got \(actual))") }
            }
            if name.hasSuffix(".gpg"), let gpg = options.gpg {
                try gpg.decrypt(local, to: local + ".plain")
                try readVolume(local + ".plain", compressed: false)
                unlink(local + ".plain")
            } else {
                try readVolume(local, compressed: name.hasSuffix(".gz"))
            }
            result.volumes += 1
            unlink(local)
        }
    }

    /// Whether a volume's path range can contain `path` or something below it (volumes hold
    /// paths in depth-first, byte-sorted order).
    static func volume(_ v: Manifest.Volume, mayHold path: String) -> Bool {
        let p = components(path), start = components(v.startPath), end = components(v.endPath)
        return !less(end, p) && (!less(p, start) || start.starts(with: p))
    }

    static func components(_ path: String) -> [[UInt8]] {
        path.isEmpty || path == "." ? [] : path.split(separator: "/").map { Array($0.utf8) }
    }

    static func less(_ a: [[UInt8]], _ b: [[UInt8]]) -> Bool {
        a.lexicographicallyPrecedes(b) { $0.lexicographicallyPrecedes($1) }
    }

    static func sha1(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot read \(path)") }
        defer { close(fd) }
        var digest = MessageDigest(.sha1)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            digest.update(buffer[0..<n])
        }
        return digest.finalizeHexAndReset()
    }

    private func readVolume(_ path: String, compressed: Bool) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot read \(path)") }
        defer { close(fd) }
        let gunzip = compressed ? try GzipInflater() : nil
        let tar = TarReader()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var current: (TarEntry, Int32?, String?)?
        func handle(_ events: [TarReader.Event]) throws {
            for e in events {
                switch e {
                case .entry(let entry):
                    current = try begin(entry)
                case .data(let bytes):
                    if let fd = current?.1 { try Self.writeAll(fd, bytes) }
                case .entryEnd:
                    if let c = current { try end(c.0, fd: c.1, temp: c.2) }
                    current = nil
                case .end:
                    break
                }
            }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw BackupError("cannot read \(path)") }
            if n == 0 { break }
            let plain = try gunzip.map { try $0.feed(Array(buffer[0..<n])) } ?? Array(buffer[0..<n])
            try handle(try tar.feed(plain))
        }
        try tar.finish()
    }

    /// The kind and backup path of a member name.
    static func parse(_ name: String) -> (kind: String, path: String, chunk: Int?)? {
        var n = name
        while n.hasSuffix("/") { n.removeLast() }
        for kind in ["multivol_snapshot", "multivol_diff", "snapshot", "diff", "deleted", "signature"] {
            if n == kind { return (kind, "", nil) }
            guard n.hasPrefix(kind + "/") else { continue }
            var path = String(n.dropFirst(kind.count + 1))
            var chunk: Int?
            if kind.hasPrefix("multivol"), let slash = path.lastIndex(of: "/") {
                chunk = Int(path[path.index(after: slash)...])
                path = String(path[..<slash])
            }
            if path == "." { path = "" }
            return (kind, path, chunk)
        }
        return nil
    }

    /// Where a backup path lands in the target (nil when outside `--file-to-restore`).
    func destination(_ path: String) -> String? {
        guard let only = options.fileToRestore.map({ $0.hasSuffix("/") ? String($0.dropLast()) : $0 }), !only.isEmpty, only != "." else {
            return path.isEmpty ? target : "\(target)/\(path)"
        }
        if path == only { return target }
        if path.hasPrefix(only + "/") { return "\(target)/\(path.dropFirst(only.count + 1))" }
        return nil
    }

    /// Starts a member: answers where its data goes (a temp file) if it has any.
    private func begin(_ entry: TarEntry) throws -> (TarEntry, Int32?, String?)? {
        guard let (kind, path, chunk) = Self.parse(entry.name) else { return nil }
        if let p = pending, p.path != path || (chunk ?? 1) == 1 { try finishPending() }
        guard let dest = destination(path) else { return nil }
        switch kind {
        case "deleted":
            try? FileManager.default.removeItem(atPath: dest)
            return nil
        case "multivol_snapshot", "multivol_diff":
            if pending == nil {
                let temp = "\(work)/multivol"
                let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw BackupError("cannot write \(temp)") }
                pending = Pending(path: path, entry: entry, isDiff: kind == "multivol_diff", temp: temp, fd: fd)
            }
            return (entry, pending!.fd, nil)
        case "snapshot", "diff":
            if entry.type == .regular {
                let temp = "\(work)/member"
                let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw BackupError("cannot write \(temp)") }
                return (entry, fd, temp)
            }
            try place(entry, at: dest, content: nil, isDiff: false)
            return nil
        default:
            return nil
        }
    }

    private func end(_ entry: TarEntry, fd: Int32?, temp: String?) throws {
        guard let temp, let fd else { return }  // multivol chunks stay open until the file is complete
        close(fd)
        guard let (kind, path, _) = Self.parse(entry.name), let dest = destination(path) else { return }
        try place(entry, at: dest, content: temp, isDiff: kind == "diff")
    }

    private func finishPending() throws {
        guard let p = pending else { return }
        pending = nil
        close(p.fd)
        guard let dest = destination(p.path) else { return }
        try place(p.entry, at: dest, content: p.temp, isDiff: p.isDiff)
    }

    /// Puts one restored entry at `dest` with its metadata.
    private func place(_ entry: TarEntry, at dest: String, content: String?, isDiff: Bool) throws {
        let fm = FileManager.default
        let parent = (dest as NSString).deletingLastPathComponent
        if !fm.fileExists(atPath: parent) { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        switch entry.type {
        case .directory:
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dest, isDirectory: &isDir), !isDir.boolValue { try fm.removeItem(atPath: dest) }
            if !fm.fileExists(atPath: dest) { try fm.createDirectory(atPath: dest, withIntermediateDirectories: true) }
            directoryTimes[dest] = entry.mtime
        case .symlink:
            try? fm.removeItem(atPath: dest)
            guard symlink(entry.linkName.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }, dest) == 0 else {
                throw BackupError("cannot create symlink \(dest): \(String(cString: strerror(errno)))")
            }
        case .fifo:
            try? fm.removeItem(atPath: dest)
            mkfifo(dest, mode_t(entry.mode & 0o7777))
        case .characterDevice, .blockDevice:
            try? fm.removeItem(atPath: dest)
            let kind: mode_t = entry.type == .characterDevice ? S_IFCHR : S_IFBLK
            mknod(dest, kind | mode_t(entry.mode & 0o7777), Self.device(major: entry.deviceMajor, minor: entry.deviceMinor))
        default:
            guard let content else { return }
            let staged = "\(work)/staged"
            if isDiff {
                guard fm.fileExists(atPath: dest) else { throw BackupError("cannot apply the delta for \(dest): no earlier version restored") }
                try Rsync.patch(basis: dest, delta: content, to: staged)
            } else {
                guard rename(content, staged) == 0 else { throw BackupError("cannot stage \(dest)") }
            }
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dest, isDirectory: &isDir), isDir.boolValue { try fm.removeItem(atPath: dest) }
            guard rename(staged, dest) == 0 else { throw BackupError("cannot write \(dest): \(String(cString: strerror(errno)))") }
            result.files += 1
            result.bytes += (try? fm.attributesOfItem(atPath: dest)[.size] as? Int64) ?? 0
        }
        setOwner(dest, entry)
        if entry.type != .symlink { chmod(dest, mode_t(entry.mode & 0o7777)) }
        if entry.type != .directory { setTimes(dest, entry.mtime, symlink: entry.type == .symlink) }
    }

    /// glibc's `makedev` (a macro Swift cannot see).
    static func device(major: Int, minor: Int) -> dev_t {
        let ma = UInt64(major), mi = UInt64(minor)
        return dev_t(((ma & 0xFFFF_F000) << 32) | ((ma & 0xFFF) << 8) | ((mi & 0xFFFF_FF00) << 12) | (mi & 0xFF))
    }

    private func setOwner(_ path: String, _ entry: TarEntry) {
        guard geteuid() == 0 else { return }
        var uid = uid_t(entry.uid), gid = gid_t(entry.gid)
        if !options.numericOwner {
            if !entry.userName.isEmpty, let pw = getpwnam(entry.userName) { uid = pw.pointee.pw_uid }
            if !entry.groupName.isEmpty, let gr = getgrnam(entry.groupName) { gid = gr.pointee.gr_gid }
        }
        lchown(path, uid, gid)
    }

    private func setTimes(_ path: String, _ mtime: Double, symlink: Bool) {
        var times = [timespec(tv_sec: Int(mtime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, symlink ? AT_SYMLINK_NOFOLLOW : 0)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw BackupError("write failed: \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}
