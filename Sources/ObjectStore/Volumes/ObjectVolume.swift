import Foundation

/// One append-only volume file of a device (`<device>/volumes/v<number>`): records are
/// appended under one lock, and made durable by group commit — a writer waits for an
/// `fdatasync` that covers its record, and one `fdatasync` covers every record appended before
/// it started, so concurrent writes to the device share one flush instead of paying one (plus
/// a temp-file inode, a rename and a directory fsync) each. OVH's LOSF, Haystack and SeaweedFS
/// pack small objects the same way.
final class ObjectVolume: @unchecked Sendable {
    // @unchecked: `end`, `synced`, `syncing` and `broken` are only touched with `condition`
    // held; `fd`, `number` and `path` never change.
    let number: Int
    let path: String
    let fd: Int32
    /// The CRC seed of this volume's records (its header's salt).
    let seed: UInt32
    private let condition = NSCondition()
    /// Where the next record goes (the end of the last whole record).
    private var end: Int64
    /// Everything before this offset is on disk.
    private var synced: Int64
    private var syncing = false
    /// Set when an `fdatasync` failed: nothing appended since can be promised durable.
    private var broken = false
    /// The file's length: zeros written and flushed ahead of `end`, so that appending (and
    /// each `fdatasync`) changes no metadata — on this ext4 without a journal a size change
    /// makes every flush write the inode too, one more synchronous I/O per group commit.
    private var allocated: Int64
    /// How far ahead zeros are written at a time.
    static let preallocationStep: Int64 = 8 << 20

    init(number: Int, path: String, fd: Int32, seed: UInt32, end: Int64) {
        self.number = number
        self.path = path
        self.fd = fd
        self.seed = seed
        self.end = end
        self.synced = end
        var st = stat()
        self.allocated = fstat(fd, &st) == 0 ? max(end, Int64(st.st_size)) : end
    }

    /// Writes and flushes zeros up to a whole step past `needed` (with `condition` held).
    private func preallocate(covering needed: Int64) throws {
        guard needed > allocated else { return }
        // 1 MiB ahead at first, up to a whole step once the volume has grown (a new, nearly
        // empty volume does not write and flush 8 MiB of zeros).
        let step = min(Self.preallocationStep, max(1 << 20, allocated / 2))
        let target = (needed / step + 1) * step
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var at = allocated
        while at < target {
            let n = Int(min(Int64(zeros.count), target - at))
            try zeros.withUnsafeBytes { try Self.pwriteFully(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), at: at) }
            at += Int64(n)
        }
        // The new length and blocks are on disk before any record in them is acknowledged.
        guard fsync(fd) == 0 else {
            // This flush may have consumed the error of records appended before: none of them
            // may be acknowledged by a later flush that succeeds, so the volume is done.
            let failure = errno
            broken = true
            condition.broadcast()
            throw DiskFileError.io("volume \(path): fsync: \(String(cString: strerror(failure)))")
        }
        allocated = target
    }

    deinit { close(fd) }

    var size: Int64 {
        condition.lock()
        defer { condition.unlock() }
        return end
    }

    /// Appends a record (`head`, then `body`); answers the offset of the body and the record's
    /// end. Not durable until `sync(upTo:)` returns. A failed write leaves nothing behind (the
    /// file is cut back to where the record began).
    func append(head: [UInt8], body: UnsafeRawBufferPointer?) throws -> (bodyOffset: Int64, end: Int64) {
        condition.lock()
        defer { condition.unlock() }
        if broken { throw DiskFileError.io("volume \(path) failed to sync earlier; not written") }
        let start = end
        try preallocate(covering: start + Int64(head.count) + Int64(body?.count ?? 0))
        do {
            try head.withUnsafeBytes { try Self.pwriteFully(fd, $0, at: start) }
            if let body, body.count > 0 { try Self.pwriteFully(fd, body, at: start + Int64(head.count)) }
        } catch {
            // Zeros again where the record began: the replay stops at zeros, never at a part
            // of a record that was not finished.
            let zeros = [UInt8](repeating: 0, count: VolumeRecord.headerSize)
            _ = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(start)) }
            throw error
        }
        end = start + Int64(head.count) + Int64(body?.count ?? 0)
        return (start + Int64(head.count), end)
    }

    /// Returns once everything up to `offset` is on disk: joins the `fdatasync` in flight, or
    /// starts one covering every record appended so far.
    func sync(upTo offset: Int64) throws {
        condition.lock()
        defer { condition.unlock() }
        while synced < offset {
            if broken { throw DiskFileError.io("volume \(path): fdatasync failed") }
            if syncing {
                condition.wait()
                continue
            }
            syncing = true
            let target = end
            condition.unlock()
            let rc = fdatasync(fd)
            let failure = errno
            condition.lock()
            syncing = false
            if rc != 0 {
                // After a failed flush the kernel may have dropped the dirty pages: nothing
                // unflushed can be trusted, so this volume takes no more writes.
                broken = true
                condition.broadcast()
                throw DiskFileError.io("volume \(path): fdatasync: \(String(cString: strerror(failure)))")
            }
            synced = max(synced, target)
            condition.broadcast()
        }
    }

    static func pwriteFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ENOSPC || errno == EDQUOT { throw DiskFileError.io("no space on device") }
                throw DiskFileError.io("write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}
