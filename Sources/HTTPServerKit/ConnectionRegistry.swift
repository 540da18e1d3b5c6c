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

    /// Records a connection as soon as it is accepted (before the server's loop sees it, which
    /// it may never do if the server is closing), until it closes.
    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let late = state.withLockedValue { s -> Bool in
            if s.shuttingDown { return true }
            s.channels[id] = (channel, false)
            return false
        }
        if late {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in remove(id) }
    }

    /// Claims a tracked connection for serving; false when the server is shutting down or
    /// `limit` connections are open (this one included).
    func register(_ id: ObjectIdentifier, _ channel: any Channel, limit: Int = .max) -> Bool {
        state.withLockedValue { s in
            if s.shuttingDown || s.channels.count > limit { return false }
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

    /// Closes every connection, busy or not (the end of a shutdown's drain).
    func closeAll() {
        let all = state.withLockedValue { $0.channels.values.map(\.channel) }
        for c in all { c.close(promise: nil) }
    }

    /// Closes every idle connection and refuses new ones.
    func shutdown() {
        let idle = state.withLockedValue { s -> [any Channel] in
            s.shuttingDown = true
            return s.channels.values.filter { !$0.busy }.map(\.channel)
        }
        for c in idle { c.close(promise: nil) }
    }
}
