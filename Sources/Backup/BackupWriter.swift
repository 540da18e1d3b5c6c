import Digest
import Foundation
import Gzip
import Rsync
import Tar

/// Makes full and incremental backup sets in duplicity's format: data volumes (snapshots,
/// librsync deltas, deletions; files of 64 KiB and more in `multivol_*` chunks), a signature
/// tar, and a manifest written last — a set is never visible before all its volumes are stored.
public final class BackupWriter {
    public struct Options: Sendable {
        /// Volume size in bytes (duplicity's `--volsize`, 200 MiB by default).
        public var volumeSize: Int64 = 200 * 1024 * 1024
        public var compress = true
        /// The archive cache directory for this target (manifests and sigtars are kept there).
        public var cacheDirectory: String?
        /// `Localdir` in the manifest: the source as given on the command line.
        public var localdir: String?
        public var hostname: String?
        /// Encryption (`PASSPHRASE` or `--encrypt-key`); nil with `--no-encryption`.
        public var gpg: GPG?
        /// `--include` / `--exclude` rules.
        public var selection: Selection?
        /// Extend a chain made from another host or source directory.
        public var allowSourceMismatch = false
        /// Hears of progress (about twice a second) and of files that cannot be read.
        public var onProgress: (@Sendable (Progress) -> Void)?
        public var onWarning: (@Sendable (String) -> Void)?
        /// Called with a volume's number once it is stored and recorded in the cache (tests
        /// inject crashes here).
        public var afterVolumeStored: (@Sendable (Int) -> Void)?
        public init() {}
    }

    /// How far a backup is: source bytes to read (new and changed files) and read so far.
    public struct Progress: Sendable {
        public var files = 0
        public var totalFiles = 0
        public var bytes: Int64 = 0
        public var totalBytes: Int64 = 0
        public var started = Date()
    }

    /// duplicity's backup statistics.
    public struct Stats: Sendable {
        public var startTime = Date()
        public var endTime = Date()
        /// The set's time (its name).
        public var time: Int64 = 0
        public var sourceFiles = 0
        public var sourceFileSize: Int64 = 0
        public var newFiles = 0
        public var newFileSize: Int64 = 0
        public var deletedFiles = 0
        public var changedFiles = 0
        public var changedFileSize: Int64 = 0
        public var changedDeltaSize: Int64 = 0
        public var deltaEntries = 0
        public var rawDeltaSize: Int64 = 0
        public var totalDestinationSizeChange: Int64 = 0
        public var errors = 0
        public var volumes = 0
    }

    let source: String
    let backend: any BackupBackend
    let options: Options
    let work: String
    let now: Int64

    public init(source: String, backend: any BackupBackend, options: Options, now: Int64 = Int64(Date().timeIntervalSince1970)) throws {
        self.source = source
        self.backend = backend
        self.options = options
        self.now = now
        work = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: work) }

    static let chunk = 65536
    /// Files from this size on get their signature computed concurrently with their content.
    static let parallelSignatureSize: Int64 = 1 << 20

    /// A full backup.
    public func full() async throws -> Stats {
        let (cache, _) = try await prepare { _ in false }
        defer { cache?.unlock() }
        return try await write(previous: nil, cache: cache)
    }

    /// An incremental on top of the newest chain (a full when there is none).
    public func incremental() async throws -> Stats {
        let (cache, chain) = try await prepare { _ in true }
        defer { cache?.unlock() }
        return try await write(previous: chain, cache: cache)
    }

    /// duplicity's bare `SRC URL`: an incremental, or a full when there is no chain yet or
    /// the chain's full set is older than `fullIfOlderThan` (epoch seconds).
    public func automatic(fullIfOlderThan: Int64?) async throws -> Stats {
        let (cache, chain) = try await prepare { chain in fullIfOlderThan.map { chain.start >= $0 } ?? true }
        defer { cache?.unlock() }
        return try await write(previous: chain, cache: cache)
    }

    /// Locks the cache, checks that the newest chain may be extended (`extend` says whether
    /// this run extends it) and syncs the cache; answers the chain to extend (nil: a full).
    /// Nothing is written to the target or the cache before the checks passed. The caller
    /// unlocks the cache when its run ends (a task still holding the writer must not keep it).
    private func prepare(extend: (BackupChain) -> Bool) async throws -> (ArchiveCache?, BackupChain?) {
        var cache: ArchiveCache?
        if let dir = options.cacheDirectory {
            let c = try ArchiveCache(directory: dir)
            try c.lock()
            cache = c
        }
        do {
            return try await checkAndSync(cache: cache, extend: extend)
        } catch {
            cache?.unlock()
            throw error
        }
    }

    private func checkAndSync(cache: ArchiveCache?, extend: (BackupChain) -> Bool) async throws -> (ArchiveCache?, BackupChain?) {
        let newest = BackupCollection(names: try await backend.list()).chains.last
        let chain = newest.flatMap { extend($0) ? $0 : nil }
        if let chain { try await checkEncryption(of: chain) }
        if let cache, let dir = options.cacheDirectory {
            let report = try await cache.sync(with: backend, gpg: options.gpg, work: work)
            for name in report.orphaned { options.onWarning?("moved \(name) to \(dir)/orphaned: the target does not hold it") }
        }
        if let newest { try await checkSource(newest, cache: cache) }
        return (cache, chain)
    }

    /// duplicity refuses to extend a chain made on another host or from another directory.
    private func checkSource(_ chain: BackupChain, cache: ArchiveCache?) async throws {
        guard !options.allowSourceMismatch, let name = chain.sets.last?.manifest else { return }
        var path = cache?.path(of: name)
        if path == nil {
            let local = try await backend.localFile(name, downloadingTo: "\(work)/last-manifest")
            path = local
            if name.hasSuffix(".gpg"), let gpg = options.gpg {
                try await gpg.decrypt(local, to: "\(work)/last-manifest.plain")
                path = "\(work)/last-manifest.plain"
            }
        }
        guard let path, let text = try? String(contentsOfFile: path, encoding: .utf8), let manifest = try? Manifest(parsing: text) else { return }
        let host = options.hostname ?? Self.hostname()
        if let previous = manifest.hostname, previous != host {
            throw BackupError("""
                Backup source host has changed. Current hostname: \(host), previous hostname: \(previous). \
                Aborting because you may have accidentally tried to back up two different data sets to the same target. \
                If this is not a mistake, use --allow-source-mismatch.
                """)
        }
        let dir = options.localdir ?? source
        if let previous = manifest.localdir, previous != dir,
           !BackupSchedule.sameDirectory(previous, dir, relativeTo: [FileManager.default.currentDirectoryPath]) {
            throw BackupError("""
                Backup source directory has changed. Current directory: \(dir), previous directory: \(previous). \
                Aborting because you may have accidentally tried to back up two different data sets to the same target. \
                If this is not a mistake, use --allow-source-mismatch.
                """)
        }
    }

    private func write(previous chain: BackupChain?, cache: ArchiveCache?) async throws -> Stats {
        var stats = Stats()
        var time = now
        if let chain, time <= chain.end { time = chain.end + 1 }  // names have one-second resolution
        // An interrupted run of this same set left a resume record: continue it.
        let resume = try await Resume.find(cache: options.cacheDirectory, previousTime: chain?.end, backend: backend)
        if let resume { time = resume.time }
        stats.time = time
        let previousTime = chain?.end
        let kindVolume: BackupFileName.Kind = chain == nil ? .fullVolume : .incVolume
        var oldState = SignatureState()
        if let chain {
            oldState = try await SignatureState.load(chain: chain, backend: backend, work: work, gpg: options.gpg, cache: cache)
        }
        let encrypted = options.gpg != nil
        let volumes = VolumeWriter(work: work, compress: options.compress, gpg: options.gpg, volumeSize: options.volumeSize,
                                   name: { BackupFileName(kind: kindVolume, time: time, previousTime: previousTime, volume: $0,
                                                          encrypted: encrypted, compressed: self.options.compress).name },
                                   upload: { [backend] path, name in try await backend.move(path, as: name) })
        let partName = BackupFileName(kind: chain == nil ? .fullManifest : .incManifest, time: time, previousTime: previousTime).name + ".part"
        if let cache = options.cacheDirectory {
            // After each stored volume the cache records how far the set got (duplicity's .part).
            volumes.onVolumeStored = { [options] stored in
                var partial = Manifest()
                partial.hostname = options.hostname
                partial.volumes = stored
                try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
                try Data(partial.text.utf8).write(to: URL(fileURLWithPath: "\(cache)/\(partName)"), options: .atomic)
                if let number = stored.last?.number { options.afterVolumeStored?(number) }
            }
        }
        var skipUntil: (path: String, block: Int?)?
        if let resume, let last = resume.volumes.last {
            volumes.resume(after: resume.volumes)
            skipUntil = (last.endPath == "." ? "" : last.endPath, last.endBlock)
        }
        /// Chunks of `path` already stored by the interrupted run (nil: none; Int.max: all).
        func storedChunks(_ path: String) -> Int? {
            guard let (p, block) = skipUntil else { return nil }
            if SourceTree.precedes(path, p) { return Int.max }
            if path == p { return block ?? Int.max }
            return nil
        }
        let sigtar = try TarGzFile(path: "\(work)/sigtar", compress: options.compress || encrypted)
        var filelist: [(String, String)] = []
        let warn: (String) -> Void = { [options] message in
            stats.errors += 1
            options.onWarning?(message)
        }

        var oldPaths = oldState.paths[...]
        func emitDeletions(before path: String?) async throws {
            while let old = oldPaths.first, path == nil || SourceTree.precedes(old, path!) {
                oldPaths.removeFirst()
                guard !old.isEmpty else { continue }
                let header = TarEntry(path: Array(SourceTree.memberName("deleted", old, isDirectory: false).utf8), type: .regular, mode: 0)
                if storedChunks(old) == nil { try await volumes.add(header, data: [], path: old, chunk: nil) }
                try sigtar.write(TarWriter.header(for: header))
                if oldState.entries[old]?.type == TarEntryType.regular { filelist.append(("deleted", old)) }
                stats.deletedFiles += 1
                stats.deltaEntries += 1
            }
        }

        var entries: [SourceEntry] = []
        try SourceTree.walk(source, selection: options.selection, warn: warn) { entries.append($0) }
        var progress = Progress()
        for entry in entries where entry.type == .regular {
            if let old = oldState.entries[entry.path], !entry.differs(from: old) { continue }
            progress.totalFiles += 1
            progress.totalBytes += entry.size
        }
        var lastReport = Date.distantPast
        func report(force: Bool = false) {
            guard let onProgress = options.onProgress else { return }
            let now = Date()
            guard force || now.timeIntervalSince(lastReport) >= 0.5 else { return }
            lastReport = now
            onProgress(progress)
        }
        for entry in entries {
            try await emitDeletions(before: entry.path)
            stats.sourceFiles += 1
            stats.sourceFileSize += entry.size
            let old = oldState.entries[entry.path]
            if oldPaths.first == entry.path { oldPaths.removeFirst() }
            if let old, !entry.differs(from: old) { continue }
            let isDir = entry.type == .directory
            if entry.type == .regular {
                let full = entry.path.isEmpty ? source : "\(source)/\(entry.path)"
                guard access(full, R_OK) == 0 else {
                    // duplicity's behaviour: say so, go on, count it; the chain keeps what it had.
                    warn("cannot read \(full): \(String(cString: strerror(errno))) (skipped)")
                    continue
                }
                // Big files: the signature (MD4 over the file) runs on another core while the
                // content is read, sampled and queued for compression here.
                let bigSignature = entry.size >= Self.parallelSignatureSize ? Task.detached { try Rsync.signature(of: full) } : nil
                do {
                    if let old, old.type == .regular, let oldSig = try oldState.signature(for: entry.path) {
                        let delta = "\(work)/delta"
                        try Rsync.delta(signature: oldSig, newFile: full, to: delta)
                        let size = try await addContent(file: delta, entry: entry, kind: "diff", volumes: volumes, skipChunks: storedChunks(entry.path))
                        filelist.append(("changed", entry.path))
                        stats.changedFiles += 1
                        stats.changedFileSize += entry.size
                        stats.changedDeltaSize += size
                        stats.rawDeltaSize += size
                    } else {
                        let size = try await addContent(file: full, entry: entry, kind: "snapshot", volumes: volumes,
                                                        skipChunks: storedChunks(entry.path))
                        filelist.append(("new", entry.path))
                        if old == nil {
                            stats.newFiles += 1
                            stats.newFileSize += entry.size
                        } else {
                            stats.changedFiles += 1
                            stats.changedFileSize += entry.size
                        }
                        stats.rawDeltaSize += size
                    }
                } catch let error as SourceReadError {
                    // Vanished or unreadable since the walk: only whole members were queued
                    // before the first read, so nothing of this file is in the volumes.
                    _ = try? await bigSignature?.value
                    warn(error.description)
                    continue
                }
                stats.deltaEntries += 1
                progress.files += 1
                progress.bytes += entry.size
                report()
                let sigBytes = try await bigSignature?.value ?? Rsync.signature(of: full)
                let header = entry.header(name: SourceTree.memberName("signature", entry.path, isDirectory: false), size: Int64(sigBytes.count))
                try sigtar.write(TarWriter.header(for: header) + sigBytes + TarWriter.padding(for: Int64(sigBytes.count)))
            } else {
                if old == nil { stats.newFiles += 1 } else { stats.changedFiles += 1 }
                stats.deltaEntries += 1
                let header = entry.header(name: SourceTree.memberName("snapshot", entry.path, isDirectory: isDir), size: 0)
                if storedChunks(entry.path) == nil { try await volumes.add(header, data: [], path: entry.path, chunk: nil) }
                let sigHeader = entry.header(name: SourceTree.memberName("snapshot", entry.path, isDirectory: isDir, inSigtar: true), size: 0)
                try sigtar.write(TarWriter.header(for: sigHeader))
            }
        }
        try await emitDeletions(before: nil)
        report(force: true)
        let volumeRecords = try await volumes.finish()
        stats.volumes = volumeRecords.count
        stats.totalDestinationSizeChange = volumes.storedBytes
        stats.totalDestinationSizeChange += try await storeMetadata(sigtar: sigtar, volumes: volumeRecords, filelist: filelist,
                                                                    isFull: chain == nil, time: time, previousTime: previousTime, cache: cache)
        if let cache = options.cacheDirectory { try? FileManager.default.removeItem(atPath: "\(cache)/\(partName)") }
        stats.endTime = Date()
        return stats
    }

    /// Stores the signatures, then the manifest (the manifest makes the set exist), and keeps
    /// copies of both in the cache; answers the bytes stored.
    private func storeMetadata(sigtar: TarGzFile, volumes: [Manifest.Volume], filelist: [(String, String)], isFull: Bool,
                               time: Int64, previousTime: Int64?, cache: ArchiveCache?) async throws -> Int64 {
        let encrypted = options.gpg != nil
        let sigKind: BackupFileName.Kind = isFull ? .fullSignatures : .newSignatures
        let sigName = BackupFileName(kind: sigKind, time: time, previousTime: previousTime, encrypted: encrypted,
                                     compressed: options.compress).name
        // The cache keeps sigtars gzipped and decrypted whatever the target holds, as duplicity's does.
        let cacheSigName = BackupFileName(kind: sigKind, time: time, previousTime: previousTime, compressed: true).name
        var stored: Int64 = 0
        _ = try sigtar.finish()
        if let gpg = options.gpg {
            // Encrypted targets hold the plain tar inside the OpenPGP message.
            let plain = "\(work)/sigtar.tar"
            let out = FileManager.default.createFile(atPath: plain, contents: nil) ? FileHandle(forWritingAtPath: plain) : nil
            guard let out else { throw BackupError("cannot write \(plain)") }
            try Restorer.forEachBlock(of: sigtar.path, gunzip: true) { out.write(Data($0)) }
            try out.close()
            try await gpg.encrypt(plain, to: "\(work)/sigtar.gpg")
            stored += Self.size("\(work)/sigtar.gpg")
            try await backend.put("\(work)/sigtar.gpg", as: sigName)
        } else {
            stored += sigtar.storedBytes
            try await backend.put(sigtar.path, as: sigName)
        }
        var manifest = Manifest()
        manifest.hostname = options.hostname ?? Self.hostname()
        manifest.localdir = options.localdir ?? source
        manifest.volumes = volumes
        manifest.files = filelist.sorted { SourceTree.precedes($0.1, $1.1) }
        let manifestPath = "\(work)/manifest"
        try Data(manifest.text.utf8).write(to: URL(fileURLWithPath: manifestPath))
        let manifestKind: BackupFileName.Kind = isFull ? .fullManifest : .incManifest
        let manifestName = BackupFileName(kind: manifestKind, time: time, previousTime: previousTime).name
        if let cache = cache?.directory {
            try? FileManager.default.removeItem(atPath: "\(cache)/\(manifestName)")
            try FileManager.default.copyItem(atPath: manifestPath, toPath: "\(cache)/\(manifestName)")
            try? FileManager.default.removeItem(atPath: "\(cache)/\(cacheSigName)")
            try FileManager.default.copyItem(atPath: sigtar.path, toPath: "\(cache)/\(cacheSigName)")
        }
        if let gpg = options.gpg {
            try await gpg.encrypt(manifestPath, to: manifestPath + ".gpg")
            stored += Self.size(manifestPath + ".gpg")
            try await backend.put(manifestPath + ".gpg",
                                  as: BackupFileName(kind: manifestKind, time: time, previousTime: previousTime, encrypted: true).name)
        } else {
            stored += Self.size(manifestPath)
            try await backend.put(manifestPath, as: manifestName)
        }
        return stored
    }

    static func size(_ path: String) -> Int64 {
        var st = stat()
        return lstat(path, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// `socket.gethostname()`, as duplicity records it.
    static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return String(cString: buf)
    }

    static func compressible(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { GzipMemberCompressor.looksCompressible($0) }
    }

    /// Adds a file's bytes (content or delta) as one member, or as 64 KiB `multivol_` chunks
    /// (with a trailing empty chunk for exact multiples, as duplicity writes them).
    @discardableResult
    private func addContent(file: String, entry: SourceEntry, kind: String, volumes: VolumeWriter,
                            skipChunks: Int? = nil) async throws -> Int64 {
        // Stored whole by an interrupted run of this set.
        if skipChunks == Int.max { return 0 }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SourceReadError(description: "cannot read \(file): \(String(cString: strerror(errno))) (skipped)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: Self.chunk)
        func readChunk() -> [UInt8] {
            var got = 0
            while got < Self.chunk {
                let n = buffer[got...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                got += n
            }
            return Array(buffer[0..<got])
        }
        var first = readChunk()
        var total = Int64(first.count)
        if first.count < Self.chunk {
            try await volumes.add(entry.header(name: SourceTree.memberName(kind, entry.path, isDirectory: false), size: Int64(first.count)),
                                  data: first, path: entry.path, chunk: nil, compressible: Self.compressible(first))
            return total
        }
        var k = 1
        while true {
            if k > (skipChunks ?? 0) {
                try await volumes.add(entry.header(name: "multivol_\(kind)/\(entry.path)/\(k)", size: Int64(first.count)), data: first,
                                      path: entry.path, chunk: k, compressible: Self.compressible(first))
            }
            if first.count < Self.chunk { break }
            first = readChunk()
            total += Int64(first.count)
            k += 1
        }
        return total
    }
}

/// A source file that could not be read (a warning and a counted error, not a failed backup).
struct SourceReadError: Error, CustomStringConvertible {
    let description: String
}
