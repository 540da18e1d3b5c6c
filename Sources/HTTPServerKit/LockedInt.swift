import NIOConcurrencyHelpers

/// An integer behind a lock, for counters shared across tasks.
final class LockedInt: Sendable {
    private let box = NIOLockedValueBox(0)
    func add(_ n: Int) { box.withLockedValue { $0 += n } }
    var value: Int { box.withLockedValue { $0 } }
}
