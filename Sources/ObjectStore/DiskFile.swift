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

    /// What the directory currently says about the object.
    public enum State: Sendable {
        /// No files at all.
        case missing
        /// Deleted at this time.
        case deleted(Timestamp)
        /// Present: the data file and the effective metadata (data metadata overlaid with `.meta`).
        case present(ObjectReader)
    }

    /// Sorted file names of the hash directory (oldest first by timestamp).
    func listing() -> [(Timestamp, String, String)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var out: [(Timestamp, String, String)] = []
        for name in names {
            guard let dot = name.lastIndex(of: ".") else { continue }
            let ext = String(name[name.index(after: dot)...])
            guard ["data", "ts", "meta"].contains(ext), let ts = Timestamp(name[..<dot]) else { continue }
            out.append((ts, ext, name))
        }
        return out.sorted { $0.0 < $1.0 }
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
        let files = listing()
        guard let newest = files.last(where: { $0.1 != "meta" }) else {
            return files.isEmpty ? .missing : .missing
        }
        if newest.1 == "ts" { return .deleted(newest.0) }
        let reader = try ObjectReader(path: "\(directory)/\(newest.2)")
        if let meta = files.last(where: { $0.1 == "meta" && $0.0 > newest.0 }) {
            let overlay = try Self.readFooterFile("\(directory)/\(meta.2)")
            reader.applyPost(overlay)
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

    /// Removes files made obsolete by newer ones.
    func cleanup() {
        let files = listing()
        guard let newestIndex = files.lastIndex(where: { $0.1 != "meta" }) else { return }
        let newest = files[newestIndex]
        let newestMeta = files.last { $0.1 == "meta" }
        for (i, f) in files.enumerated() {
            let keep = i == newestIndex || (f.1 == "meta" && newest.1 == "data" && f.0 > newest.0 && f.2 == newestMeta?.2)
            if !keep { unlink("\(directory)/\(f.2)") }
        }
    }

    /// Moves the whole hash directory to `quarantined/objects/` (bit rot, bad metadata).
    public func quarantine() throws {
        let qdir = "\(devicePath)/quarantined/objects"
        try FileManager.default.createDirectory(atPath: qdir, withIntermediateDirectories: true)
        let target = "\(qdir)/\(hash)-\(UInt32.random(in: 0...UInt32.max))"
        guard rename(directory, target) == 0 else { throw POSIXFailure("quarantine \(directory)") }
        // The suffix changed: replication must see it differ from the peers' and bring a good copy.
        SuffixHashes.invalidate(diskFile: self)
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
