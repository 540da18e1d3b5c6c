import Foundation
import HTTPClientKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import Ring

/// Delivers the container updates that failed at write time (`async_pending/` on each
/// device), retrying every pass until the container server has them, as Swift's object
/// updater does. If the container has moved (a rebalance), the update goes to its new primaries.
actor ObjectUpdater: PeriodicService {
    let env: NodeServices
    let timeout: TimeAmount

    init(env: NodeServices, timeout: TimeAmount) {
        self.env = env
        self.timeout = timeout
    }

    func runPass() async { _ = await pass() }

    /// One pass; answers (delivered, still pending).
    @discardableResult
    func pass() async -> (sent: Int, remaining: Int) {
        var sent = 0, failed = 0, remaining = 0
        for device in env.devices {
            let root = "\(env.paths.devicePath(device))/async_pending"
            let walk = DeviceWalk(pools: env.pools, device: device)
            // On the device's pool: the disk work of reading and removing pending files.
            func onDisk<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T? { try? await env.pools.run(device, body) }
            for suffix in await walk.list(root) {
                let dir = "\(root)/\(suffix)"
                for name in await walk.list(dir).sorted() {
                    if Task.isCancelled { break }
                    let file = "\(dir)/\(name)"
                    guard let data = await onDisk({ FileManager.default.contents(atPath: file) }) ?? nil,
                          let pending = try? JSONDecoder().decode(AsyncPending.self, from: data) else {
                        _ = await onDisk { unlink(file) }
                        continue
                    }
                    if await deliver(pending) {
                        _ = await onDisk { unlink(file) }
                        sent += 1
                    } else {
                        failed += 1
                        remaining += 1
                    }
                }
                _ = await onDisk { rmdir(dir) }
            }
        }
        await env.stats.recordUpdater(sent: sent, failed: failed, remaining: remaining, at: env.clock.now())
        if sent > 0 { env.logger.info("object updater: delivered \(sent) container updates, \(remaining) still pending") }
        return (sent, remaining)
    }

    private func deliver(_ pending: AsyncPending) async -> Bool {
        var targets = [(pending.host, pending.device, pending.partition)]
        let parts = NameBytes.split(pending.path, maxSplits: 3)
        if let ring = env.rings.ring(.container), parts.count >= 3 {
            let (part, nodes) = ring.nodes(account: parts[1], container: parts[2])
            if !nodes.contains(where: { $0.address == pending.host && $0.device == pending.device }) {
                targets = nodes.map { ($0.address, $0.device, String(part)) }
            }
        }
        var headers = HTTPHeaders()
        for (k, v) in pending.headers { headers.add(name: k, value: v) }
        for (host, device, partition) in targets {
            guard let (h, port) = ContainerUpdateSender.splitHost(host) else { return false }
            let uri = "/\(PercentCoding.encodePath(device))/\(partition)" + PercentCoding.encodePath(pending.path)
            guard let r = try? await env.client.request(host: h, port: port, method: pending.method, uri: uri, headers: headers, timeout: timeout),
                  (200..<300).contains(r.status) else { return false }
        }
        return true
    }
}
