import Foundation
import Synchronization

/// The rings of a running server, reloaded when their files change (an operator's
/// `nimbus ring rebalance` reaches every process within a check interval, no restart).
public final class RingWatcher: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case account, container, object }

    private struct Loaded {
        var rings: [Kind: Ring] = [:]
        var stamps: [Kind: Double] = [:]
    }

    public let directory: String
    private let state = Mutex(Loaded())

    public init(directory: String) {
        self.directory = directory
        _ = reload()
    }

    public func path(_ kind: Kind) -> String { "\(directory)/\(kind.rawValue).ring.json" }

    /// The current ring of a kind, nil when its file is missing or unreadable.
    public func ring(_ kind: Kind) -> Ring? { state.withLock { $0.rings[kind] } }

    /// All three rings, when all are present.
    public var rings: RingSet? {
        state.withLock { s in
            guard let a = s.rings[.account], let c = s.rings[.container], let o = s.rings[.object] else { return nil }
            return RingSet(account: a, container: c, object: o)
        }
    }

    /// Reloads the ring files whose modification time changed; answers the kinds reloaded.
    @discardableResult
    public func reload() -> [Kind] {
        var changed: [Kind] = []
        for kind in Kind.allCases {
            let p = path(kind)
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: p),
                  let date = attrs[.modificationDate] as? Date else { continue }
            let stamp = date.timeIntervalSince1970
            if state.withLock({ $0.stamps[kind] }) == stamp { continue }
            guard let ring = try? Ring.load(from: p) else { continue }
            state.withLock {
                $0.rings[kind] = ring
                $0.stamps[kind] = stamp
            }
            changed.append(kind)
        }
        return changed
    }

    /// Checks the files every `interval` until cancelled.
    public func watch(interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            reload()
        }
    }
}
