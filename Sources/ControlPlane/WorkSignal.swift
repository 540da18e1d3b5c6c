import Foundation
import NIOConcurrencyHelpers

/// Wakes those waiting for work: `poke` after a change, `wait(since:timeout:)` until a poke
/// newer than the generation the waiter last saw (so a poke between its last look and its wait
/// is never lost), or the timeout — the poll that catches changes made by other processes when
/// the engine cannot tell (SQLite).
public final class WorkSignal: Sendable {
    private struct State {
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// The current generation: pass it to `wait` after looking for work.
    public var generation: Int { state.withLockedValue { $0.generation } }

    public func poke() {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.generation += 1
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    public func wait(since generation: Int, timeout: Double) async {
        let id: Int? = await withCheckedContinuation { (c: CheckedContinuation<Int?, Never>) in
            let registered = state.withLockedValue { s -> Int? in
                guard s.generation == generation else { return nil }
                s.nextWaiter += 1
                return s.nextWaiter
            }
            c.resume(returning: registered)
        }
        guard let id else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let stillWaiting = state.withLockedValue { s -> Bool in
                guard s.generation == generation else { return false }
                s.waiters[id] = c
                return true
            }
            guard stillWaiting else { return c.resume() }
            Task { [state] in
                try? await Task.sleep(nanoseconds: UInt64(max(0.001, timeout) * 1e9))
                let w = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
                w?.resume()
            }
        }
    }
}
