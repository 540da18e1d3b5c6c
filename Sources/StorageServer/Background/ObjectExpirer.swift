import Foundation
import Logging
import NimbusCore
import ObjectStore
import Ring

/// Deletes objects whose `X-Delete-At` has passed, on this node's devices.
///
/// Each replica expires itself: the tombstone carries the delete-at time as its timestamp
/// (so a newer PUT wins, exactly as with Swift's expirer and `X-If-Delete-At`), and the
/// container listing is told by a DELETE update to every replica of the container.
actor ObjectExpirer: PeriodicService {
    let env: NodeServices
    let updater: ContainerUpdateSender
    /// Objects expired since start (for status).
    private(set) var expired = 0

    init(env: NodeServices, updater: ContainerUpdateSender) {
        self.env = env
        self.updater = updater
    }

    func runPass() async { _ = await pass() }

    /// Expires everything due now; answers how many objects were deleted.
    @discardableResult
    func pass() async -> Int {
        let now = Int64(env.clock.now())
        var deleted = 0
        for device in env.devices {
            let queue = ExpiringObjects(devicePath: env.paths.devicePath(device))
            // The queue is files on the device: read and trimmed on its pool.
            for entry in (try? await env.pools.run(device) { queue.due(now: now) }) ?? [] {
                if await expire(entry, device: device) { deleted += 1 }
                _ = try? await env.pools.run(device) { queue.remove(entry) }
            }
        }
        expired += deleted
        if deleted > 0 { await env.stats.countExpired(deleted) }
        if deleted > 0 { env.logger.info("expirer: deleted \(deleted) expired objects") }
        return deleted
    }

    /// Deletes one object if it still expires at the entry's time.
    private func expire(_ entry: ExpiringObjects.Entry, device: String) async -> Bool {
        let file = DiskFile(devicePath: env.paths.devicePath(device), partition: entry.partition, hash: entry.hash)
        let ts = Timestamp(seconds: Double(entry.deleteAt))
        let name: String? = try? await env.pools.run(device) {
            guard case .present(let reader) = try file.open(), reader.metadata["X-Delete-At"] == String(entry.deleteAt),
                  reader.dataTimestamp < ts, let name = reader.metadata["name"] else { return nil }
            try file.delete(at: ts, name: name)
            return name
        }
        guard let name, let (account, container, object) = Self.split(name) else { return false }
        if let ring = env.rings.ring(.container) {
            let (part, nodes) = ring.nodes(account: account, container: container)
            await updater.deliver(to: nodes.map { ($0.address, $0.device, String(part)) }, from: device,
                                  objectPath: "/\(account)/\(container)/\(object)", method: "DELETE", timestamp: ts, extra: [:],
                                  txid: "tx-expirer-\(entry.hash.prefix(8))")
        }
        return true
    }

    /// `/account/container/object` into its parts (the object may hold slashes).
    static func split(_ name: String) -> (String, String, String)? {
        let parts = NameBytes.split(name, maxSplits: 3)
        guard parts.count == 4, parts[0].isEmpty else { return nil }
        return (String(parts[1]), String(parts[2]), String(parts[3]))
    }
}
