import Foundation
import NimbusCore

/// The files of one object on one device: `objects/<part>/<suffix>/<hash>/<timestamp>.data|.ts|.meta`.
///
/// The newest `.data` or `.ts` decides whether the object exists; a `.meta` newer than the
/// `.data` carries the metadata of the latest POST. Older files are removed after each write,
/// as OpenStack Swift's `hash_cleanup_listdir` does.
public struct DiskFile: Sendable {
    /// The device directory (`<devices>/<device>`).
    public let devicePath: String
    public let partition: Int
    /// The hex path hash (directory name).
    public let hash: String

    public init(devicePath: String, partition: Int, hash: String) {
        self.devicePath = devicePath
        self.partition = partition
        self.hash = hash
    }

    /// The suffix directory: last three hex digits of the hash.
    public var suffix: String { String(hash.suffix(3)) }
    public var directory: String { "\(devicePath)/objects/\(partition)/\(suffix)/\(hash)" }
    public var tmpDirectory: String { "\(devicePath)/tmp" }
    /// The device's volumes, when its node packs small files into them (`VolumeStore`).
    var volumes: VolumeStore? { VolumeStore.registered(devicePath) }

    /// What the directory currently says about the object.
    public enum State: Sendable {
        /// No files at all.
        case missing
        /// Deleted at this time.
        case deleted(Timestamp)
        /// Present: the data file and the effective metadata (data metadata overlaid with `.meta`).
        case present(ObjectReader)
    }

    /// One file of the hash directory: its timestamp, extension (`data`, `ts`, `meta`) and name.
    typealias ListedFile = (Timestamp, String, String)

    /// Sorted file names of the hash directory (oldest first by timestamp), with those kept in
    /// the device's volumes.
    func listing() -> [ListedFile] {
        var out: [ListedFile] = []
        for name in names() {
            guard let file = Self.parse(name) else { continue }
            out.append(file)
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// Every name of the hash directory: its files and its files in volumes.
    func names() -> [String] {
        var names = DirectoryNames.list(directory)
        if let volumes { names += volumes.files(partition: partition, hash: hash).keys }
        return names
    }

    /// The volume and place of one file of the hash directory, when a volume keeps it.
    private func inVolume(_ name: String) -> (ObjectVolume, VolumeIndex.Location)? {
        guard let volumes, let at = volumes.location(partition: partition, hash: hash, name: name),
              let volume = volumes.volume(of: at) else { return nil }
        return (volume, at)
    }

    /// Opens one file of the hash directory, wherever it is kept.
    func reader(_ name: String) throws -> ObjectReader {
        if let (volume, at) = inVolume(name) {
            return try ObjectReader(path: "\(directory)/\(name)", fd: volume.fd, base: at.offset, size: at.length, owner: volume)
        }
        return try ObjectReader(path: "\(directory)/\(name)")
    }

    /// The metadata of one file (a `.meta`), wherever it is kept.
    func footer(_ name: String) throws -> [String: String] {
        if let (volume, at) = inVolume(name) {
            return try withExtendedLifetime(volume) { try MetadataFooter.read(fd: volume.fd, base: at.offset, fileSize: at.length).metadata }
        }
        return try Self.readFooterFile("\(directory)/\(name)")
    }

    /// Removes one file of the hash directory, wherever it is kept.
    func remove(_ name: String) {
        if volumes?.remove(partition: partition, hash: hash, name: name) == true { return }
        unlink("\(directory)/\(name)")
    }

    /// One file's bytes as stored (object bytes and footer), for sending it to another replica;
    /// nil when it is gone (replaced by a newer version meanwhile).
    public func storedFile(_ name: String) -> StoredFile? {
        if let (volume, at) = inVolume(name) {
            return StoredFile(fd: volume.fd, base: at.offset, size: at.length, owner: volume)
        }
        let fd = Glibc.open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            return nil
        }
        return StoredFile(fd: fd, base: 0, size: Int64(st.st_size), owner: nil)
    }

    static func parse(_ name: String) -> ListedFile? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let ext = String(name[name.index(after: dot)...])
        guard ["data", "ts", "meta"].contains(ext), let ts = Timestamp(name[..<dot]) else { return nil }
        return (ts, ext, name)
    }

    /// Opens the newest version of the object. A concurrent write may replace the files
    /// between listing and opening: then the directory is read again.
    public func open() throws -> State {
        for attempt in 0..<5 {
            do {
                return try openOnce()
            } catch DiskFileError.vanished(let path) {
                if attempt == 4 { throw DiskFileError.io("kept changing: \(path)") }
            }
        }
        return .missing
    }

    private func openOnce() throws -> State {
        try state(of: listing())
    }

    /// The object as the files of one listing describe it.
    private func state(of files: [ListedFile]) throws -> State {
        guard let newest = files.last(where: { $0.1 != "meta" }) else {
            return files.isEmpty ? .missing : .missing
        }
        if newest.1 == "ts" { return .deleted(newest.0) }
        let reader = try self.reader(newest.2)
        if let meta = files.last(where: { $0.1 == "meta" && $0.0 > newest.0 }) {
            reader.applyPost(try footer(meta.2))
        }
        return .present(reader)
    }

    /// Timestamp of the newest `.data`/`.ts` (for last-write-wins checks), nil when none.
    public func newestTimestamp() -> (Timestamp, isDeleted: Bool)? {
        guard let newest = listing().last(where: { $0.1 != "meta" }) else { return nil }
        return (newest.0, newest.1 == "ts")
    }

    /// Starts writing a new `.data` file.
    public func writer() throws -> DiskFileWriter {
        try DiskFileWriter(diskFile: self)
    }

    /// What a PUT needs to know before it writes, from one listing of the hash directory: the
    /// newest `.data`/`.ts` (last write wins), the current object when `open` is asked for
    /// (If-None-Match), and a writer that cleans up after itself from the same listing rather
    /// than listing the directory again.
    public struct WritePreparation {
        public let newest: (Timestamp, isDeleted: Bool)?
        /// The current object, when `open` was asked for; nil when it could not be read.
        public let state: State?
        public let writer: DiskFileWriter
    }

    /// Lists the hash directory once and opens a writer (see `WritePreparation`).
    public func prepareWrite(open: Bool) throws -> WritePreparation {
        let files = listing()
        let newest = files.last(where: { $0.1 != "meta" }).map { ($0.0, isDeleted: $0.1 == "ts") }
        // A file that vanished between listing and opening was replaced by a newer write; the
        // PUT's own timestamp check against that write happens when it installs.
        let state = open ? try? state(of: files) : nil
        return WritePreparation(newest: newest, state: state, writer: try DiskFileWriter(diskFile: self, knownFiles: files))
    }

    /// Writes a tombstone (`.ts`) at `timestamp`.
    public func delete(at timestamp: Timestamp, name: String) throws {
        let w = try writer()
        try w.commit(metadata: ["name": name, "X-Timestamp": timestamp.internalForm], timestamp: timestamp, ext: "ts")
    }

    /// Writes a `.meta` file (the metadata of a POST) at `timestamp`.
    public func post(metadata: [String: String], at timestamp: Timestamp) throws {
        let w = try writer()
        var m = metadata
        m["X-Timestamp"] = timestamp.internalForm
        try w.commit(metadata: m, timestamp: timestamp, ext: "meta")
    }

    /// Removes files made obsolete by newer ones: those of `known` (a listing taken before a write,
    /// plus the file it installed) or, when nil, of a fresh listing. A file a concurrent writer
    /// installed after `known` was taken is left for that writer's cleanup or the replicator's.
    func cleanup(known: [ListedFile]? = nil) {
        let files = known ?? listing()
        guard let newestIndex = files.lastIndex(where: { $0.1 != "meta" }) else { return }
        let newest = files[newestIndex]
        let newestMeta = files.last { $0.1 == "meta" }
        for (i, f) in files.enumerated() {
            let keep = i == newestIndex || (f.1 == "meta" && newest.1 == "data" && f.0 > newest.0 && f.2 == newestMeta?.2)
            if !keep { remove(f.2) }
        }
    }

    /// Moves the whole hash directory to `quarantined/objects/` (bit rot, bad metadata).
    public func quarantine() throws {
        let qdir = "\(devicePath)/quarantined/objects"
        try FileManager.default.createDirectory(atPath: qdir, withIntermediateDirectories: true)
        let target = "\(qdir)/\(hash)-\(UInt32.random(in: 0...UInt32.max))"
        let inVolumes = volumes?.files(partition: partition, hash: hash) ?? [:]
        if rename(directory, target) != 0 {
            guard errno == ENOENT, !inVolumes.isEmpty else { throw POSIXFailure("quarantine \(directory)") }
        }
        if !inVolumes.isEmpty {
            // Files kept in a volume are copied out as files, as the directory would have held them.
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            for name in inVolumes.keys {
                if let file = storedFile(name) {
                    var bytes = [UInt8](repeating: 0, count: Int(file.size))
                    if MetadataFooter.preadFully(file.fd, &bytes, offset: file.base) {
                        FileManager.default.createFile(atPath: "\(target)/\(name)", contents: Data(bytes))
                    }
                    file.close()
                }
                remove(name)
            }
        }
        // The suffix changed: replication must see it differ from the peers' and bring a good copy.
        SuffixHashes.invalidate(diskFile: self)
    }

    /// One file's bytes where they are kept: a plain file's descriptor, or a volume's (left open).
    public struct StoredFile {
        public let fd: Int32
        /// Where the file's image starts in `fd`.
        public let base: Int64
        public let size: Int64
        /// The volume the descriptor belongs to (kept open while this is used); nil: a plain
        /// file whose descriptor `close` closes.
        let owner: AnyObject?

        public func close() {
            if owner == nil { Glibc.close(fd) }
        }
    }

    static func readFooterFile(_ path: String) throws -> [String: String] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? DiskFileError.vanished(path) : DiskFileError.io("open \(path)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DiskFileError.io("stat \(path)") }
        return try MetadataFooter.read(fd: fd, fileSize: Int64(st.st_size)).metadata
    }
}
