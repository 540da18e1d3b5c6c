import CLinuxIO
import Digest
import Foundation
import NimbusCore

/// Writes a new object file: bytes go to a temp file in the device's `tmp/` while their MD5 is
/// computed; `commit` appends the metadata footer, fsyncs, renames into the hash directory and
/// fsyncs that directory. Until `commit` nothing is visible; `abort` (or a crash, cleaned up at
/// start-up by `DeviceMaintenance.cleanTemp`) leaves nothing behind.
///
/// On a device that packs small files into volumes (`VolumeStore`), the bytes are held in
/// memory instead while they fit in `VolumeStore.smallFileLimit`, and `commit` puts the file
/// into a volume (durable by group commit) rather than renaming a temp file; a file that grows
/// past the limit moves to a temp file and takes the path above.
public final class DiskFileWriter {
    public let diskFile: DiskFile
    private var tmpPath = ""
    private var fd: Int32 = -1
    /// The bytes so far, while they go to a volume (nil: a temp file).
    private var memory: [UInt8]?
    private let volumes: VolumeStore?
    private var md5 = MessageDigest(.md5)
    /// Bytes written so far.
    public private(set) var bytesWritten: Int64 = 0
    /// Where the writeback started so far ends (see `writebackStep`).
    private var writebackStarted: Int64 = 0
    /// Writeback of a large object's bytes is started every this many bytes as they arrive
    /// (not waited for), so its final fsync flushes only the tail instead of the whole object
    /// at once: the disk writes while the network still delivers.
    static let writebackStep: Int64 = 8 << 20
    /// When set, the MD5 covers only this many leading bytes (a replicated file's data, not
    /// its metadata footer).
    public var hashedLength: Int64?
    private var finished = false
    /// The hash directory's files listed before this write began (nil: list again to clean up).
    private let knownFiles: [DiskFile.ListedFile]?

    init(diskFile: DiskFile, knownFiles: [DiskFile.ListedFile]? = nil) throws {
        self.diskFile = diskFile
        self.knownFiles = knownFiles
        self.volumes = diskFile.volumes
        if volumes != nil {
            memory = []
        } else {
            try openTemp()
        }
    }

    private func openTemp() throws {
        let tmpDir = diskFile.tmpDirectory
        var path = "\(tmpDir)/\(diskFile.hash).\(UInt64.random(in: 0...UInt64.max)).tmp"
        var fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            try FileManager.default.createDirectory(atPath: tmpDir, withIntermediateDirectories: true)
            path = "\(tmpDir)/\(diskFile.hash).\(UInt64.random(in: 0...UInt64.max)).tmp"
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else {
            if errno == ENOSPC { throw DiskFileError.io("no space on device") }
            throw DiskFileError.io("create temp file: \(String(cString: strerror(errno)))")
        }
        self.tmpPath = path
        self.fd = fd
    }

    deinit {
        if !finished { abort() }
    }

    /// Appends object bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if let limit = hashedLength {
            let take = Int(max(0, min(Int64(bytes.count), limit - bytesWritten)))
            if take > 0 { md5.update(UnsafeRawBufferPointer(rebasing: bytes.prefix(take))) }
        } else {
            md5.update(bytes)
        }
        if memory != nil {
            try hold(bytes)
            bytesWritten += Int64(bytes.count)
            return
        }
        try writeRaw(bytes)
        bytesWritten += Int64(bytes.count)
        if bytesWritten - writebackStarted >= Self.writebackStep {
            // Advisory: an error here changes nothing the final fsync does not check.
            _ = nimbus_start_writeback(fd, writebackStarted, bytesWritten - writebackStarted)
            writebackStarted = bytesWritten
        }
    }

    /// Keeps bytes in memory for a volume, or moves everything to a temp file once the file
    /// would be too big for one (a footer's worth of room is left).
    private func hold(_ bytes: UnsafeRawBufferPointer) throws {
        guard var held = memory else { return try writeRaw(bytes) }
        if held.count + bytes.count + 64 * 1024 > VolumeStore.smallFileLimit {
            memory = nil
            try openTemp()
            try held.withUnsafeBytes { try writeRaw($0) }
            try writeRaw(bytes)
            return
        }
        memory = nil  // no copy-on-write of the held bytes while appending
        held.append(contentsOf: bytes)
        memory = held
    }

    private func writeRaw(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ENOSPC || errno == EDQUOT { throw DiskFileError.io("no space on device") }
                throw DiskFileError.io("write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Lowercase hex MD5 of everything written; call once, before `commit`.
    public func finalizeETag() -> String {
        md5.finalizeHexAndReset()
    }

    /// Makes the file visible as `<timestamp>.<ext>` in the hash directory.
    public func commit(metadata: [String: String], timestamp: Timestamp, ext: String = "data") throws {
        let footer = try MetadataFooter.encode(metadata)
        if var held = memory {
            memory = nil
            held += footer
            return try installInVolume(fileName: "\(timestamp.internalForm).\(ext)", image: held)
        }
        try footer.withUnsafeBytes { try writeRaw($0) }
        try install(fileName: "\(timestamp.internalForm).\(ext)")
    }

    /// Makes a file received from another replica (data and footer as written there) visible
    /// under its own name, after checking its footer reads back.
    public func commitReplica(fileName: String) throws {
        if let held = memory {
            memory = nil
            _ = try held.withUnsafeBytes { try MetadataFooter.read(image: $0) }
            return try installInVolume(fileName: fileName, image: held)
        }
        guard fsync(fd) == 0 else { throw DiskFileError.io("fsync: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DiskFileError.io("stat") }
        let reader = Glibc.open(tmpPath, O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { throw DiskFileError.io("open \(tmpPath)") }
        defer { close(reader) }
        _ = try MetadataFooter.read(fd: reader, fileSize: Int64(st.st_size))
        try install(fileName: fileName)
    }

    private func install(fileName: String) throws {
        guard fsync(fd) == 0 else { throw DiskFileError.io("fsync: \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        let dir = diskFile.directory
        let target = "\(dir)/\(fileName)"
        if access(target, F_OK) == 0 {
            abort()
            throw DiskFileError.exists
        }
        if Glibc.rename(tmpPath, target) != 0 {
            guard errno == ENOENT else {
                abort()
                throw DiskFileError.io("rename: \(String(cString: strerror(errno)))")
            }
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            guard Glibc.rename(tmpPath, target) == 0 else {
                abort()
                throw DiskFileError.io("rename: \(String(cString: strerror(errno)))")
            }
        }
        finished = true
        AtomicFile.fsyncDirectory(dir)
        if let knownFiles, let installed = DiskFile.parse(fileName) {
            diskFile.cleanup(known: (knownFiles + [installed]).sorted { $0.0 < $1.0 })
        } else {
            diskFile.cleanup()
        }
        SuffixHashes.invalidate(diskFile: diskFile)
    }

    /// Puts the file into the device's active volume (durable when this returns), then cleans
    /// up as `install` does.
    private func installInVolume(fileName: String, image: [UInt8]) throws {
        guard let volumes else { throw DiskFileError.io("no volumes on \(diskFile.devicePath)") }
        if access("\(diskFile.directory)/\(fileName)", F_OK) == 0 {
            abort()
            throw DiskFileError.exists
        }
        do {
            try image.withUnsafeBytes { try volumes.put(partition: diskFile.partition, hash: diskFile.hash, name: fileName, image: $0) }
        } catch {
            abort()
            throw error
        }
        finished = true
        if let knownFiles, let installed = DiskFile.parse(fileName) {
            diskFile.cleanup(known: (knownFiles + [installed]).sorted { $0.0 < $1.0 })
        } else {
            diskFile.cleanup()
        }
        SuffixHashes.invalidate(diskFile: diskFile)
    }

    /// Throws the temp file away.
    public func abort() {
        memory = nil
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !finished && !tmpPath.isEmpty { unlink(tmpPath) }
        finished = true
    }
}
