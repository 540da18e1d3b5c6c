import DBBroker
import Foundation
import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import Ring

/// Tells the account servers what each container holds (OpenStack Swift's container-updater).
///
/// Container PUT/DELETE are reported at once; object changes only mark the container dirty, and
/// dirty containers are reported every `interval`, so a burst of object PUTs costs one account
/// update instead of one per object.
public actor ContainerReporter {
    struct Target: Hashable {
        let db: String
        let device: String
    }

    private let client: BackendClient
    private let rings: RingWatcher
    private let pools: DevicePools
    private let timeout: TimeAmount
    private let clock: any WallClock
    private let logger: Logger
    private var dirty: [String: Target] = [:]

    init(client: BackendClient, rings: RingWatcher, pools: DevicePools, timeout: TimeAmount, clock: any WallClock, logger: Logger) {
        self.clock = clock
        self.client = client
        self.rings = rings
        self.pools = pools
        self.timeout = timeout
        self.logger = logger
    }

    func markDirty(db: String, account: String, container: String) {
        let device = db.split(separator: "/").dropLast(5).last.map(String.init) ?? ""
        dirty[db] = Target(db: db, device: device)
    }

    /// Where a container server reports a container PUT/DELETE: the account replica the
    /// proxy paired with it (`X-Account-Host/-Device/-Partition`).
    struct AccountTarget: Sendable {
        let host: String
        let port: Int
        let device: String
        let partition: String
    }

    /// Reports a container's state now (after a container PUT or DELETE) to the paired account
    /// replica; if there is none or it fails, the container is reported to every account
    /// replica on the next pass.
    func report(info: ContainerInfo, db: String, txid: String, target: AccountTarget?) async {
        if let target, await sendOne(info, to: target, txid: txid) { return }
        markDirty(db: db, account: info.account, container: info.container)
    }

    /// Reports every dirty container once; failures stay dirty for the next pass.
    public func flush() async {
        let batch = dirty
        dirty.removeAll()
        for (db, target) in batch {
            do {
                let info: ContainerInfo = try await pools.run(target.device) { try ContainerBroker(path: db).info() }
                if !(await send(info, txid: TransactionID.make())) { dirty[db] = dirty[db] ?? target }
            } catch {
                logger.debug("container report for \(db) skipped: \(error)")
            }
        }
    }

    /// Runs report passes until cancelled.
    public func run(interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await flush()
        }
    }

    func headers(_ info: ContainerInfo, txid: String) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "X-Put-Timestamp", value: info.putTimestamp.internalForm)
        headers.add(name: "X-Delete-Timestamp", value: info.deleteTimestamp.internalForm)
        headers.add(name: "X-Object-Count", value: String(info.objectCount))
        headers.add(name: "X-Bytes-Used", value: String(info.bytesUsed))
        headers.add(name: "X-Timestamp", value: Timestamp.now(clock).internalForm)
        headers.add(name: "X-Trans-Id", value: txid)
        headers.add(name: "X-Backend-Server", value: "account")
        return headers
    }

    private func sendOne(_ info: ContainerInfo, to target: AccountTarget, txid: String) async -> Bool {
        let uri = "/\(PercentCoding.encodePath(target.device))/\(target.partition)"
            + PercentCoding.encodePath("/\(info.account)/\(info.container)")
        let r = try? await client.request(host: target.host, port: target.port, method: "PUT", uri: uri,
                                          headers: headers(info, txid: txid), timeout: timeout)
        return r.map { (200..<300).contains($0.status) } ?? false
    }

    /// Reports to every account replica; true when all took it.
    @discardableResult
    private func send(_ info: ContainerInfo, txid: String) async -> Bool {
        guard let ring = rings.ring(.account) else { return false }
        let (part, nodes) = ring.nodes(account: info.account)
        var successes = 0
        for node in nodes {
            let target = AccountTarget(host: node.ip, port: node.port, device: node.device, partition: String(part))
            if await sendOne(info, to: target, txid: txid) { successes += 1 }
        }
        return successes == nodes.count
    }
}
