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
    private let condition = NSCondition()
    /// Where the next record goes (the end of the last whole record).
    private var end: Int64
    /// Everything before this offset is on disk.
    private var synced: Int64
    private var syncing = false
    /// Set when an `fdatasync` failed: nothing appended since can be promised durable.
    private var broken = false

    init(number: Int, path: String, fd: Int32, end: Int64) {
        self.number = number
        self.path = path
        self.fd = fd
        self.end = end
        self.synced = end
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
        do {
            try head.withUnsafeBytes { try Self.pwriteFully(fd, $0, at: start) }
            if let body, body.count > 0 { try Self.pwriteFully(fd, body, at: start + Int64(head.count)) }
        } catch {
            _ = ftruncate(fd, off_t(start))
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
