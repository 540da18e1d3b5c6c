#if canImport(Glibc)
import Glibc
#endif

/// Closes a descriptor that holds a `flock`, releasing the lock first.
///
/// `close` alone releases a `flock` only once no other reference to the same open file is
/// left, and a child process between its fork and its exec holds a copy of every descriptor
/// (`O_CLOEXEC` ones too, until the exec): while another thread spawns a helper, a lock given up
/// by `close` stays held for a moment, and taking it again at once with `LOCK_NB` fails as if
/// another process owned it. `LOCK_UN` releases it whatever else refers to the file.
public func releaseFlockAndClose(_ fd: Int32) {
    guard fd >= 0 else { return }
    _ = flock(fd, LOCK_UN)
    _ = close(fd)
}
