import Digest
import Foundation
import Gzip
import Tar

/// Writes a gzip-compressed tar stream to a local file, counting compressed bytes (volumes
/// are cut on those) and hashing what is stored (the manifest's SHA1).
final class TarGzFile {
    let path: String
    private let fd: Int32
    private let gzip: GzipDeflater?
    private var sha1 = MessageDigest(.sha1)
    /// Uncompressed tar bytes written (for the final record padding).
    private(set) var tarBytes: Int64 = 0
    private(set) var storedBytes: Int64 = 0

    init(path: String, compress: Bool) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackupError("cannot write \(path): \(String(cString: strerror(errno)))") }
        gzip = compress ? try GzipDeflater(level: 6) : nil
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) throws {
        tarBytes += Int64(bytes.count)
        try store(try gzip.map { try $0.feed(bytes) } ?? bytes)
    }

    private func store(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        sha1.update(bytes)
        try Restorer.writeAll(fd, bytes)
        storedBytes += Int64(bytes.count)
    }

    /// Compressed bytes so far (what the volume size limit applies to).
    var compressedSize: Int64 { gzip.map { $0.totalOut } ?? tarBytes }

    /// Ends the archive (two zero blocks, padded to a 10240-byte record) and answers the SHA1
    /// of the stored file.
    func finish() throws -> String {
        var pad = [UInt8](repeating: 0, count: 1024)
        let total = tarBytes + 1024
        if total % 10240 != 0 { pad += [UInt8](repeating: 0, count: Int(10240 - total % 10240)) }
        try write(pad)
        if let gzip { try store(try gzip.finish()) }
        guard fsync(fd) == 0 else { throw BackupError("cannot sync \(path)") }
        return sha1.finalizeHexAndReset()
    }
}

/// Cuts the data of a backup set into volumes of about `volumeSize` compressed bytes, between
/// tar members, and uploads each as it closes.
final class VolumeWriter {
    let work: String
    let compress: Bool
    let gpg: GPG?
    let volumeSize: Int64
    let name: (Int) -> String
    let upload: (String, String) async throws -> Void
    private(set) var volumes: [Manifest.Volume] = []
    /// Called after each volume is stored (the resume record is written there).
    var onVolumeStored: (([Manifest.Volume]) throws -> Void)?
    private var current: TarGzFile?
    private var number = 0
    private var start: (String, Int?)?
    private var last: (String, Int?) = ("", nil)

    init(work: String, compress: Bool, gpg: GPG?, volumeSize: Int64, name: @escaping (Int) -> String,
         upload: @escaping (String, String) async throws -> Void) {
        self.work = work
        self.gpg = gpg
        // GnuPG compresses inside: encrypted volumes hold a plain tar.
        self.compress = compress && gpg == nil
        self.volumeSize = volumeSize
        self.name = name
        self.upload = upload
    }

    /// Continues a set whose first volumes an interrupted run already stored.
    func resume(after stored: [Manifest.Volume]) {
        volumes = stored
        number = stored.last?.number ?? 0
    }

    /// Adds one member (header and data), closing the volume first when under 64 KiB of the
    /// size budget remains, as duplicity does.
    func add(_ header: TarEntry, data: [UInt8], path: String, chunk: Int?) async throws {
        if let c = current, c.compressedSize >= volumeSize - 65536 {
            // The ending block is recorded only when this file goes on in the next volume.
            try await closeVolume(continuing: (path.isEmpty ? "." : path) == last.0 && (chunk ?? 0) > 1)
        }
        if current == nil {
            number += 1
            current = try TarGzFile(path: "\(work)/volume-\(number)", compress: compress)
            start = (path.isEmpty ? "." : path, chunk)
        }
        var h = header
        h.size = Int64(data.count)
        try current!.write(TarWriter.header(for: h) + data + TarWriter.padding(for: Int64(data.count)))
        last = (path.isEmpty ? "." : path, chunk)
    }

    /// Closes the volume being written; `continuing` says a file may go on in the next one.
    func closeVolume(continuing: Bool = false) async throws {
        guard let c = current, let start else { return }
        var sha1 = try c.finish()
        current = nil
        let volumeName = name(number)
        var stored = c.path
        if let gpg {
            stored = c.path + ".gpg"
            try gpg.encrypt(c.path, to: stored)
            unlink(c.path)
            sha1 = try Restorer.sha1(stored)
        }
        try await upload(stored, volumeName)
        unlink(stored)
        volumes.append(Manifest.Volume(number: number, startPath: start.0, startBlock: start.1, endPath: last.0,
                                       endBlock: continuing ? last.1 : nil, hash: ("SHA1", sha1)))
        self.start = nil
        try onVolumeStored?(volumes)
    }

    /// Ends the set; answers the volume records for the manifest.
    func finish() async throws -> [Manifest.Volume] {
        if current == nil && volumes.isEmpty {
            // An empty set still has one (empty) volume, as duplicity writes.
            number = 1
            current = try TarGzFile(path: "\(work)/volume-1", compress: compress)
            start = (".", nil)
            last = (".", nil)
        }
        try await closeVolume()
        // The last volume's end has no block number when the file finished there.
        if var v = volumes.popLast() {
            v.endBlock = nil
            volumes.append(v)
        }
        return volumes
    }
}
