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
        /// duplicity's `--ignore-errors`: go on past a volume that cannot be read, skipping the
        /// files whose data it held (listed in `Result.incompleteFiles`). Without it such a
        /// restore stops with an error naming the volume and those files.
        public var ignoreErrors = false
        public init() {}
    }

    public struct Result: Sendable {
        public var files = 0
        public var bytes: Int64 = 0
        public var setsApplied = 0
        /// Volumes read (unreadable ones are not counted).
        public var volumes = 0
        /// Files not restored because (some of) their data was in a volume that could not be
        /// read: backup paths in duplicity's order. None of them is left in the target, not
        /// even an older version.
        public var incompleteFiles: [String] = []
        /// Each volume that could not be read, with the reason (only with `ignoreErrors`).
        public var unreadableVolumes: [String] = []
        /// duplicity's "completed with errors": something could not be restored.
        public var completedWithErrors: Bool { !unreadableVolumes.isEmpty || !incompleteFiles.isEmpty }
    }

    let backend: any BackupBackend
    let target: String
    let options: Options
    let work: String
    var pending: Pending?
    private var directoryTimes: [String: Double] = [:]
    /// Directories known to exist (checked or made), so that each is checked once.
    var knownDirectories: Set<String> = []
    var result = Result()
    /// Backup paths that could not be restored whole (see `Result.incompleteFiles`); a later
    /// set's snapshot or deletion of a path takes it off.
    var incomplete: Set<String> = []
    /// The multivol path whose remaining chunks are skipped (an earlier chunk was lost).
    var skipping: String?
    /// Backup paths written from the volume being read (lost too when it fails half-way).
    var restoredInVolume: Set<String> = []

    /// A file being assembled from multivol chunks (content or delta).
    struct Pending {
        let path: String
        let entry: TarEntry
        let isDiff: Bool
        let temp: String
        let lane: Int
        let file: LaneFile
        /// The chunk number the next member of this file must have.
        var nextChunk: Int
    }

    /// Where the data of the member being read goes: a lane writing one file.
    struct Member {
        let entry: TarEntry
        let lane: Int
        let file: LaneFile
        /// Where the file lands when complete: the destination itself, or a scratch file
        /// (deltas, multivol chunks) that `place` handles after a drain.
        let path: String
        let inPlace: Bool
        let multivol: Bool
        var buffer: [UInt8] = []
    }

    let writers = FileWriterPool(lanes: ProcessInfo.processInfo.activeProcessorCount)

    public init(backend: any BackupBackend, target: String, options: Options) throws {
        self.backend = backend
        // Relative targets are resolved now: entries are placed by absolute paths.
        self.target = target.hasPrefix("/") ? target : FileManager.default.currentDirectoryPath + "/" + target
        self.options = options
        work = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-restore-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    deinit {
        writers.shutdown()
        try? FileManager.default.removeItem(atPath: work)
    }

    public func run() async throws -> Result {
        let collection = BackupCollection(names: try await backend.list())
        let time = options.time ?? Int64.max
        guard let chain = collection.chain(for: time) else { throw BackupError("no backup chain found on the target") }
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for set in chain.sets(upTo: time) {
            try await apply(set)
            // A multivol file never spans sets; a later set may patch, replace or delete what this one wrote.
            try finishPending()
            try writers.drain()
            result.setsApplied += 1
        }
        try writers.drain()
        // Directory times last: writing their contents changed them.
        for (path, mtime) in directoryTimes.sorted(by: { $0.key.count > $1.key.count }) { Self.setTimes(path, mtime, symlink: false) }
        result.incompleteFiles = incomplete.sorted(by: SourceTree.precedes)
        return result
    }

    private func apply(_ set: BackupSet) async throws {
        if set.encrypted && options.gpg == nil { throw BackupError("the backup is encrypted: set PASSPHRASE") }
        guard let manifestName = set.manifest else { throw BackupError("set \(DuplicityTime.format(set.time)) has no manifest") }
        let manifestPath = "\(work)/manifest"
        try await backend.get(manifestName, to: manifestPath)
        if manifestName.hasSuffix(".gpg"), let gpg = options.gpg {
            try await gpg.decrypt(manifestPath, to: manifestPath + ".plain")
            try FileManager.default.removeItem(atPath: manifestPath)
            try FileManager.default.moveItem(atPath: manifestPath + ".plain", toPath: manifestPath)
        }
        let manifest = try Manifest(parsing: String(decoding: try Data(contentsOf: URL(fileURLWithPath: manifestPath)), as: UTF8.self))
        var wanted: [(Manifest.Volume, String?)] = []
        for volume in manifest.volumes {
            if let only = options.fileToRestore, !Self.volume(volume, mayHold: only) { continue }
            wanted.append((volume, set.volumes[volume.number]))
        }
        // The next volume is fetched and its SHA1 checked on another core while this one is
        // applied; nothing of a volume is applied before its hash matched.
        let backend = backend, gpg = options.gpg, work = work
        func fetch(_ i: Int) -> Task<(path: String, temporary: [String]), Error> {
            let (volume, stored) = wanted[i]
            return Task.detached {
                guard let name = stored else { throw BackupError("missing volume \(volume.number) of set \(manifestName) (not on the target)") }
                let download = "\(work)/vol-\(i)"
                let local = try await backend.localFile(name, downloadingTo: download)
                var temporary = local == download ? [download] : []
                if let (alg, expected) = volume.hash, alg == "SHA1" {
                    let actual = try Self.sha1(local)
                    guard actual == expected else {
                        for t in temporary { unlink(t) }
                        throw BackupError("Invalid data - SHA1 hash mismatch for file: \(name) (expected \(expected), got \(actual))")
                    }
                }
                guard name.hasSuffix(".gpg"), let gpg else { return (local, temporary) }
                try await gpg.decrypt(local, to: download + ".plain")
                temporary.append(download + ".plain")
                return (download + ".plain", temporary)
            }
        }
        var next = wanted.isEmpty ? nil : fetch(0)
        for i in wanted.indices {
            let (volume, name) = wanted[i]
            let fetched: (path: String, temporary: [String])
            do {
                fetched = try await next!.value
            } catch {
                next = i + 1 < wanted.count ? fetch(i + 1) : nil
                try volumeFailed(volume, name: name, manifest: manifest, reason: error, partlyRead: false, abandoned: nil)
                continue
            }
            next = i + 1 < wanted.count ? fetch(i + 1) : nil
            defer { for t in fetched.temporary { unlink(t) } }
            do {
                try readVolume(fetched.path, compressed: name?.hasSuffix(".gz") ?? false)
            } catch let failure as VolumeReadFailure {
                try volumeFailed(volume, name: name, manifest: manifest, reason: failure.error, partlyRead: true, abandoned: failure.abandoned)
                continue
            }
            result.volumes += 1
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

    /// Reads a local file in 1 MiB blocks, un-gzipping when asked, handing each block on.
    static func forEachBlock(of path: String, gunzip: Bool, _ body: ([UInt8]) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let inflater = gunzip ? try GzipInflater() : nil
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw BackupError("cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            if let inflater {
                try body(try buffer.withUnsafeBytes { try inflater.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) })
            } else {
                try body(Array(buffer[0..<n]))
            }
        }
    }

    /// Applies one volume. Bad data (gzip, tar) throws `VolumeReadFailure`, after the member
    /// being written is removed; failures to write the target are thrown as they are.
    private func readVolume(_ path: String, compressed: Bool) throws {
        let tar = TarReader()
        var current: Member?
        restoredInVolume = []
        do {
            try Self.forEachBlock(of: path, gunzip: compressed) { plain in
                let events = try tar.feed(plain)
                do {
                    for e in events {
                        switch e {
                        case .entry(let entry):
                            current = try begin(entry)
                        case .data(let bytes):
                            guard current != nil else { continue }
                            current!.buffer += bytes
                            if current!.buffer.count >= 1 << 20 { try flush(&current!) }
                        case .entryEnd:
                            if var c = current { try end(&c) }
                            current = nil
                        case .end:
                            break
                        }
                    }
                } catch {
                    throw TargetWriteFailure(error: error)
                }
            }
            try tar.finish()
        } catch let failure as TargetWriteFailure {
            _ = abandon(current)
            throw failure.error
        } catch {
            throw VolumeReadFailure(error: error, abandoned: abandon(current))
        }
    }

    /// Hands the buffered data of a member to its lane.
    private func flush(_ m: inout Member) throws {
        guard !m.buffer.isEmpty else { return }
        let bytes = m.buffer, file = m.file, path = m.path
        m.buffer = []
        try writers.submit(lane: m.lane, bytes: bytes.count) { try Self.writeAll(file.fd, bytes, path: path) }
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

    /// Starts a member: answers where its data goes, if it has any.
    private func begin(_ entry: TarEntry) throws -> Member? {
        guard let (kind, path, chunk) = Self.parse(entry.name) else { return nil }
        if let p = pending, p.path != path || (chunk ?? 1) == 1 { try finishPending() }
        if skipping != nil && (skipping != path || chunk == nil) { skipping = nil }
        guard let dest = destination(path) else { return nil }
        if skipping == path { return nil }
        // A delta needs the earlier version, which an unreadable volume took: the file stays incomplete.
        if kind.hasSuffix("diff") && entry.type == .regular && incomplete.contains(path) {
            if chunk != nil { skipping = path }
            return nil
        }
        switch kind {
        case "deleted":
            // A path appears once per set, and sets are drained in between: no lane touches it.
            try? FileManager.default.removeItem(atPath: dest)
            knownDirectories.remove(dest)
            incomplete.remove(path)
            return nil
        case "multivol_snapshot", "multivol_diff":
            // A chunk missing (it was in an unreadable volume): the file cannot be assembled.
            let number = chunk ?? 1
            if pending.map({ $0.nextChunk != number }) ?? (number != 1) {
                try discardPending()
                markIncomplete(path)
                skipping = path
                return nil
            }
            if pending == nil {
                let temp = "\(work)/multivol", lane = writers.leastLoadedLane(), file = LaneFile()
                try writers.submit(lane: lane) { try Self.create(file, at: temp, replacing: false) }
                pending = Pending(path: path, entry: entry, isDiff: kind == "multivol_diff", temp: temp, lane: lane, file: file, nextChunk: 1)
            }
            pending!.nextChunk = number + 1
            return Member(entry: entry, lane: pending!.lane, file: pending!.file, path: pending!.temp, inPlace: false, multivol: true)
        case "snapshot" where entry.type == .regular:
            // Whole files are written where they belong, as tar does: no second inode, no rename.
            try makeParent(of: dest)
            knownDirectories.remove(dest)
            incomplete.remove(path)
            let lane = writers.leastLoadedLane(), file = LaneFile()
            try writers.submit(lane: lane) { try Self.create(file, at: dest, replacing: true) }
            return Member(entry: entry, lane: lane, file: file, path: dest, inPlace: true, multivol: false)
        case "diff" where entry.type == .regular:
            let temp = "\(work)/member", lane = writers.leastLoadedLane(), file = LaneFile()
            try writers.submit(lane: lane) { try Self.create(file, at: temp, replacing: false) }
            return Member(entry: entry, lane: lane, file: file, path: temp, inPlace: false, multivol: false)
        case "snapshot", "diff":
            try place(entry, at: dest, content: nil, isDiff: false)
            return nil
        default:
            return nil
        }
    }

    /// Opens a new file for a lane's following jobs (a file or empty directory in the way goes).
    private static func create(_ file: LaneFile, at path: String, replacing: Bool) throws {
        if replacing && unlink(path) != 0 && errno != ENOENT { try FileManager.default.removeItem(atPath: path) }
        file.fd = open(path, O_WRONLY | O_CREAT | (replacing ? O_EXCL : O_TRUNC) | O_CLOEXEC, 0o600)
        guard file.fd >= 0 else { throw BackupError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    private func end(_ m: inout Member) throws {
        try flush(&m)
        guard !m.multivol else { return }  // multivol chunks stay open until the file is complete
        let file = m.file, entry = m.entry, path = m.path, numericOwner = options.numericOwner
        if m.inPlace {
            result.files += 1
            result.bytes += entry.size
            if let (_, backupPath, _) = Self.parse(entry.name) { restoredInVolume.insert(backupPath) }
            try writers.submit(lane: m.lane) {
                close(file.fd)
                Self.applyMetadata(entry, to: path, numericOwner: numericOwner)
            }
            return
        }
        try writers.submit(lane: m.lane) { close(file.fd) }
        try writers.drain()
        guard let (kind, backupPath, _) = Self.parse(entry.name), let dest = destination(backupPath) else { return }
        try place(entry, at: dest, content: path, isDiff: kind == "diff")
    }

    func finishPending() throws {
        guard let p = pending else { return }
        pending = nil
        let file = p.file
        try writers.submit(lane: p.lane) { close(file.fd) }
        try writers.drain()
        guard let dest = destination(p.path) else { return }
        if !p.isDiff { incomplete.remove(p.path) }
        try place(p.entry, at: dest, content: p.temp, isDiff: p.isDiff)
    }

    /// Puts one restored entry at `dest` with its metadata.
    private func place(_ entry: TarEntry, at dest: String, content: String?, isDiff: Bool) throws {
        let fm = FileManager.default
        try makeParent(of: dest)
        switch entry.type {
        case .directory:
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dest, isDirectory: &isDir), !isDir.boolValue { try fm.removeItem(atPath: dest) }
            if !fm.fileExists(atPath: dest) { try fm.createDirectory(atPath: dest, withIntermediateDirectories: true) }
            directoryTimes[dest] = entry.mtime
            knownDirectories.insert(dest)
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
            var staged = content
            if isDiff {
                guard fm.fileExists(atPath: dest) else {
                    // With --ignore-errors the earlier version may have been in an unreadable volume.
                    guard options.ignoreErrors, let (_, path, _) = Self.parse(entry.name) else {
                        throw BackupError("cannot apply the delta for \(dest): no earlier version restored")
                    }
                    markIncomplete(path)
                    return
                }
                staged = "\(work)/staged"
                try Rsync.patch(basis: dest, delta: content, to: staged)
            }
            // The new content replaces the old in one rename; a directory in the way goes first.
            if rename(staged, dest) != 0 {
                guard errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST else {
                    throw BackupError("cannot write \(dest): \(String(cString: strerror(errno)))")
                }
                try fm.removeItem(atPath: dest)
                guard rename(staged, dest) == 0 else { throw BackupError("cannot write \(dest): \(String(cString: strerror(errno)))") }
            }
            knownDirectories.remove(dest)
            if let (_, backupPath, _) = Self.parse(entry.name) { restoredInVolume.insert(backupPath) }
            result.files += 1
            var st = stat()
            if lstat(dest, &st) == 0 { result.bytes += Int64(st.st_size) }
        }
        Self.applyMetadata(entry, to: dest, numericOwner: options.numericOwner)
    }

    private static func applyMetadata(_ entry: TarEntry, to dest: String, numericOwner: Bool) {
        setOwner(dest, entry, numericOwner: numericOwner)
        if entry.type != .symlink { chmod(dest, mode_t(entry.mode & 0o7777)) }
        if entry.type != .directory { setTimes(dest, entry.mtime, symlink: entry.type == .symlink) }
    }

    private func makeParent(of dest: String) throws {
        let parent = (dest as NSString).deletingLastPathComponent
        guard !knownDirectories.contains(parent) else { return }
        if !FileManager.default.fileExists(atPath: parent) { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        knownDirectories.insert(parent)
    }

    /// glibc's `makedev` (a macro Swift cannot see).
    static func device(major: Int, minor: Int) -> dev_t {
        let ma = UInt64(major), mi = UInt64(minor)
        return dev_t(((ma & 0xFFFF_F000) << 32) | ((ma & 0xFFF) << 8) | ((mi & 0xFFFF_FF00) << 12) | (mi & 0xFF))
    }

    private static func setOwner(_ path: String, _ entry: TarEntry, numericOwner: Bool) {
        guard geteuid() == 0 else { return }
        var uid = uid_t(entry.uid), gid = gid_t(entry.gid)
        if !numericOwner {
            if !entry.userName.isEmpty, let id = OwnerNames.shared.uid(named: entry.userName) { uid = id }
            if !entry.groupName.isEmpty, let id = OwnerNames.shared.gid(named: entry.groupName) { gid = id }
        }
        lchown(path, uid, gid)
    }

    private static func setTimes(_ path: String, _ mtime: Double, symlink: Bool) {
        var times = [timespec(tv_sec: Int(mtime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, symlink ? AT_SYMLINK_NOFOLLOW : 0)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String? = nil) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw BackupError("cannot write \(path ?? "a file"): \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}
