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
    private let accountRing: Ring?
    private let pools: DevicePools
    private let timeout: TimeAmount
    private let logger: Logger
    private var dirty: [String: Target] = [:]

    init(client: BackendClient, accountRing: Ring?, pools: DevicePools, timeout: TimeAmount, logger: Logger) {
        self.client = client
        self.accountRing = accountRing
        self.pools = pools
        self.timeout = timeout
        self.logger = logger
    }

    func markDirty(db: String, account: String, container: String) {
        let device = db.split(separator: "/").dropLast(5).last.map(String.init) ?? ""
        dirty[db] = Target(db: db, device: device)
    }

    /// Reports a container's state now (after a container PUT or DELETE).
    func report(info: ContainerInfo, txid: String) async {
        await send(info, txid: txid)
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

    @discardableResult
    private func send(_ info: ContainerInfo, txid: String) async -> Bool {
        guard let ring = accountRing else { return false }
        let (part, nodes) = ring.nodes(account: info.account)
        var headers = HTTPHeaders()
        headers.add(name: "X-Put-Timestamp", value: info.putTimestamp.internalForm)
        headers.add(name: "X-Delete-Timestamp", value: info.deleteTimestamp.internalForm)
        headers.add(name: "X-Object-Count", value: String(info.objectCount))
        headers.add(name: "X-Bytes-Used", value: String(info.bytesUsed))
        headers.add(name: "X-Timestamp", value: Timestamp.now().internalForm)
        headers.add(name: "X-Trans-Id", value: txid)
        headers.add(name: "X-Backend-Server", value: "account")
        let h = headers
        var successes = 0
        await withTaskGroup(of: Bool.self) { group in
            for node in nodes {
                let nodeURI = "/\(PercentCoding.encodePath(node.device))/\(part)"
                    + PercentCoding.encodePath("/\(info.account)/\(info.container)")
                group.addTask { [client, timeout] in
                    let r = try? await client.request(host: node.ip, port: node.port, method: "PUT", uri: nodeURI,
                                                      headers: h, timeout: timeout)
                    return r.map { (200..<300).contains($0.status) } ?? false
                }
            }
            for await ok in group where ok { successes += 1 }
        }
        return successes == nodes.count
    }
}
