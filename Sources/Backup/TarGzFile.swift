import Digest
import Foundation
import Gzip
import Tar

/// A tar stream stored in a local file as a sequence of gzip members (or plain), counting
/// stored bytes (volumes are cut on those) and hashing them (the manifest's SHA1).
///
/// Members come either from `write` (buffered here, 1 MiB per member) or ready-made from
/// `append` (the volume pipeline compresses on all cores and appends in order).
final class TarGzFile {
    let path: String
    let compress: Bool
    private let fd: Int32
    private var sha1 = MessageDigest(.sha1)
    private var pending: [UInt8] = []
    /// Uncompressed tar bytes so far (for the final record padding).
    private(set) var tarBytes: Int64 = 0
    /// Bytes in the file so far.
    private(set) var storedBytes: Int64 = 0

    static let memberSize = 1 << 20

    init(path: String, compress: Bool) throws {
        self.path = path
        self.compress = compress
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackupError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Adds tar bytes, compressed here.
    func write(_ bytes: [UInt8]) throws {
        guard compress else {
            try append(stored: bytes, tarCount: bytes.count)
            return
        }
        pending += bytes
        if pending.count >= Self.memberSize { try flush() }
    }

    /// Adds a ready member (or plain bytes when not compressing) holding `tarCount` tar bytes.
    func append(stored bytes: [UInt8], tarCount: Int) throws {
        tarBytes += Int64(tarCount)
        guard !bytes.isEmpty else { return }
        sha1.update(bytes)
        try Restorer.writeAll(fd, bytes)
        storedBytes += Int64(bytes.count)
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        let member = CompressorPool.shared.member(pending, compressible: nil)
        try append(stored: member, tarCount: pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    /// Ends the archive (two zero blocks, padded to a 10240-byte record; `endArchive: false`
    /// when the bytes written are a whole tar already) and answers the SHA1 of the stored file.
    func finish(endArchive: Bool = true) throws -> String {
        let total = tarBytes + Int64(pending.count) + 1024
        let pad = !endArchive ? [] : [UInt8](repeating: 0, count: 1024 + (total % 10240 == 0 ? 0 : Int(10240 - total % 10240)))
        if compress {
            pending += pad
            try flush()
        } else {
            try append(stored: pad, tarCount: pad.count)
        }
        guard fsync(fd) == 0 else { throw BackupError("cannot sync \(path)") }
        return sha1.finalizeHexAndReset()
    }
}

/// libdeflate compressors shared by the threads that compress volume segments (one
/// compressor is not thread-safe; each call borrows one).
final class CompressorPool: @unchecked Sendable {  // `free` is only touched under `lock`
    static let shared = CompressorPool()
    private let lock = NSLock()
    private var free: [GzipMemberCompressor] = []

    /// One gzip member of `bytes` (stored when `compressible` is false; sampled when nil).
    func member(_ bytes: [UInt8], compressible: Bool?) -> [UInt8] {
        let c = lock.withLock { free.popLast() } ?? (try? GzipMemberCompressor())
        guard let c else { fatalError("libdeflate: out of memory") }
        defer { lock.withLock { free.append(c) } }
        return c.member(bytes, compressible: compressible)
    }
}
