import Foundation
import NimbusCore

/// The scheduler's lock: `flock(2)` on a file beside the schedule (`<schedule>.lock`), held
/// while a runner backs up a job, so two runners (the systemd timer and a `schedule run` by
/// hand, or two daemons) never back up at once. The holder writes `<pid> <job>` into the file
/// so the one that finds it taken can say who holds it.
///
/// The lock belongs to the open file description: it is released when `release()` is called,
/// when the object is dropped, or when the process dies.
public final class BackupScheduleLock {
    /// Who holds a lock that was found taken.
    public struct Holder: Sendable, Equatable, CustomStringConvertible {
        public var pid: Int32
        public var job: String
        public init(pid: Int32, job: String) {
            self.pid = pid
            self.job = job
        }
        public var description: String { "job \(job) (pid \(pid))" }
    }

    /// The answer of `acquire`.
    public enum Attempt {
        case acquired(BackupScheduleLock)
        /// Taken; the holder is nil when it has not written its name yet.
        case busy(Holder?)
    }

    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { release() }

    /// Takes the lock without waiting, recording `job` and `pid` as its holder.
    public static func acquire(path: String, job: String, pid: Int32 = getpid()) throws -> Attempt {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackupError("cannot open the lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            defer { close(fd) }
            guard failure == EWOULDBLOCK || failure == EAGAIN else {
                throw BackupError("cannot lock \(path): \(String(cString: strerror(failure)))")
            }
            return .busy(holder(fd: fd))
        }
        let lock = BackupScheduleLock(path: path, fd: fd)
        let record = Array("\(pid) \(job)\n".utf8)
        guard ftruncate(fd, 0) == 0, record.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == record.count else {
            throw BackupError("cannot write the lock file \(path): \(String(cString: strerror(errno)))")
        }
        return .acquired(lock)
    }

    /// Releases the lock (and clears the holder's name); later calls do nothing.
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        releaseFlockAndClose(fd)
        fd = -1
    }

    /// The `<pid> <job>` a holder wrote.
    private static func holder(fd: Int32) -> Holder? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let pid = Int32(parts[0]) else { return nil }
        return Holder(pid: pid, job: String(parts[1]))
    }
}
