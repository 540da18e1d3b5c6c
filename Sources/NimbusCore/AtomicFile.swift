import Foundation

/// Whole-file writes that are never seen half done: temp file, fsync, rename, directory fsync.
public enum AtomicFile {
    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = "\(dir.isEmpty ? "." : dir)/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXFailure("open \(tmp)") }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    unlink(tmp)
                    throw POSIXFailure("write \(tmp)")
                }
                offset += n
            }
        }
        fsync(fd)
        guard rename(tmp, path) == 0 else {
            let err = POSIXFailure("rename \(tmp)")
            unlink(tmp)
            throw err
        }
        fsyncDirectory(dir.isEmpty ? "." : dir)
    }

    /// fsyncs a directory so a rename into it survives a crash.
    public static func fsyncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}

/// A failed system call, with errno's text.
public struct POSIXFailure: Error, CustomStringConvertible {
    public let what: String
    public let code: Int32

    public init(_ what: String, code: Int32 = errno) {
        self.what = what
        self.code = code
    }

    public var description: String { "\(what): \(String(cString: strerror(code)))" }
}
