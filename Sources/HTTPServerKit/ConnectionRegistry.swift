import NIOConcurrencyHelpers
import NIOCore

/// The server's open connections and whether each is in the middle of a request, so that a
/// shutdown can close idle keep-alive connections at once and busy ones after their response.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: (channel: any Channel, busy: Bool)] = [:]
        var shuttingDown = false
    }

    private let state = NIOLockedValueBox(State())

    /// Adds a connection; false when the server is already shutting down or holds `limit`.
    func register(_ id: ObjectIdentifier, _ channel: any Channel, limit: Int = .max) -> Bool {
        state.withLockedValue { s in
            if s.shuttingDown || s.channels.count >= limit { return false }
            s.channels[id] = (channel, false)
            return true
        }
    }

    func remove(_ id: ObjectIdentifier) {
        _ = state.withLockedValue { $0.channels.removeValue(forKey: id) }
    }

    /// Marks a connection busy or idle; returns false when it should close now (shutdown).
    @discardableResult
    func setBusy(_ id: ObjectIdentifier, _ busy: Bool) -> Bool {
        state.withLockedValue { s in
            s.channels[id]?.busy = busy
            return !s.shuttingDown
        }
    }

    var isShuttingDown: Bool { state.withLockedValue { $0.shuttingDown } }

    /// Closes every idle connection and refuses new ones.
    func shutdown() {
        let idle = state.withLockedValue { s -> [any Channel] in
            s.shuttingDown = true
            return s.channels.values.filter { !$0.busy }.map(\.channel)
        }
        for c in idle { c.close(promise: nil) }
    }
}
