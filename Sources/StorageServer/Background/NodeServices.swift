import HTTPClientKit
import Logging
import NimbusCore
import Ring

/// What every background service of a node works with.
struct NodeServices: Sendable {
    let paths: StoragePaths
    let devices: [String]
    let pools: DevicePools
    let client: BackendClient
    let rings: RingWatcher
    let node: NodeIdentity
    let clock: any WallClock
    let stats: NodeStats
    let logger: Logger
}

/// A background service that makes one pass over the node's devices at a time.
protocol PeriodicService: Actor {
    /// One full pass.
    func runPass() async
}

extension PeriodicService {
    /// Runs a pass every `interval` until cancelled.
    func run(interval: Duration) async {
        while !Task.isCancelled {
            await runPass()
            try? await Task.sleep(for: interval)
        }
    }
}
