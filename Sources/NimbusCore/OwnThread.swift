import Foundation

/// Runs blocking work (a child process waited for, a pipe read to its end) on a thread of its
/// own and awaits it. Not on Swift's shared concurrency threads, and not on Dispatch's global
/// queues either: on Linux those are the same few threads (one per core), so a wait there stalls
/// every task of the process — and their timers fire meanwhile.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
