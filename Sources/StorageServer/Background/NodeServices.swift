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
