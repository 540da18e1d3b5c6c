import Foundation
import NimbusCore
import Testing

/// A lock given up is free at once, even while another reference to the same open file exists
/// (a child between fork and exec holds one).
@Suite struct FlockReleaseTests {
    func tryLock(_ path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    @Test func aReleasedLockCanBeTakenAgainWhileACopyOfItsDescriptorLives() throws {
        let path = NSTemporaryDirectory() + "flock-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { unlink(path) }
        let holder = try #require(tryLock(path))
        let copy = dup(holder)  // what a forked child holds until it execs
        defer { close(copy) }
        #expect(tryLock(path) == nil, "held")
        releaseFlockAndClose(holder)
        let again = tryLock(path)
        #expect(again != nil, "free again although the copy is still open")
        if let again { releaseFlockAndClose(again) }
    }

    @Test func closeAloneWouldKeepItHeldThroughTheCopy() throws {
        // The behaviour the helper exists for: without LOCK_UN the copy keeps the lock.
        let path = NSTemporaryDirectory() + "flock-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { unlink(path) }
        let holder = try #require(tryLock(path))
        let copy = dup(holder)
        close(holder)
        #expect(tryLock(path) == nil)
        close(copy)
        let again = tryLock(path)
        #expect(again != nil)
        if let again { releaseFlockAndClose(again) }
    }
}
