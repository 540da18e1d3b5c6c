import DBBroker
import Foundation
import HTTPClientKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import Ring

/// Keeps container and account DB replicas in step (Swift's container/account replicators):
/// each local DB tells each peer replica its summary, learns how far the peer has merged its
/// rows, and sends the newer rows in batches. A DB this device holds as a handoff is removed
/// once every primary has all its rows.
actor DBReplicator: PeriodicService {
    let env: NodeServices
    let batch = 1000
    let timeout: TimeAmount = .seconds(30)

    init(env: NodeServices) {
        self.env = env
    }

    func runPass() async { _ = await pass() }

    @discardableResult
    func pass() async -> ReplicationPassResult {
        var result = ReplicationPassResult()
        let started = ContinuousClock.now
        for device in env.devices {
            for (dirName, kind) in [("containers", RingWatcher.Kind.container), ("accounts", .account)] {
                guard let ring = env.rings.ring(kind) else { continue }
                let walk = DeviceWalk(pools: env.pools, device: device)
                await walk.databases(under: "\(env.paths.devicePath(device))/\(dirName)") { partition, path in
                    if partition < ring.partitionCount {
                        await replicate(path: path, device: device, partition: partition, ring: ring, isAccount: kind == .account,
                                        result: &result)
                    }
                    return true
                }
                if Task.isCancelled { return result }
            }
        }
        let elapsed = ContinuousClock.now - started
        result.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        await env.stats.recordDBReplication(result, at: env.clock.now())
        if result.pushed > 0 || result.failures > 0 || result.handoffsRemoved > 0 {
            env.logger.info("db replication: \(result.partitions) dbs, \(result.pushed) rows sent, \(result.handoffsRemoved) handoff dbs removed, \(result.failures) failures")
        }
        return result
    }

    private func replicate(path: String, device: String, partition: Int, ring: Ring, isAccount: Bool,
                           result: inout ReplicationPassResult) async {
        let primaries = ring.primaries(partition: partition)
        let isPrimary = primaries.contains { env.node.owns($0, device: device) }
        let targets = primaries.filter { !env.node.owns($0, device: device) }
        result.partitions += 1
        if !isPrimary { result.handoffPartitions += 1 }
        let hash = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        var allSynced = true
        for target in targets {
            do {
                result.pushed += try await sync(path: path, device: device, partition: partition, hash: hash, isAccount: isAccount, to: target)
            } catch {
                allSynced = false
                result.failures += 1
                env.logger.debug("db replication of \(path) to \(target.address) failed: \(error)")
            }
        }
        if !isPrimary && allSynced && !targets.isEmpty {
            let dir = (path as NSString).deletingLastPathComponent
            _ = try? await env.pools.run(device) { try FileManager.default.removeItem(atPath: dir) }
            result.handoffsRemoved += 1
        }
    }

    /// Brings one peer replica up to date; answers the rows sent.
    private func sync(path: String, device: String, partition: Int, hash: String, isAccount: Bool, to target: RingDevice) async throws -> Int {
        let summary = try await env.pools.run(device) {
            isAccount ? try AccountBroker(path: path).replicaSummary() : try ContainerBroker(path: path).replicaSummary()
        }
        let uri = "/\(target.device)/\(partition)/\(hash)"
        let answerData = try await post(target, uri: uri, kind: "db-sync", isAccount: isAccount, body: try JSONEncoder().encode(summary))
        let answer = try JSONDecoder().decode(DBReplicationController.SyncAnswer.self, from: answerData)
        var point = answer.syncPoint
        var sent = 0
        let limit = batch
        while point < summary.maxRow {
            let from = point
            let body: Data
            let last: Int64
            let count: Int
            if isAccount {
                let (records, lastRow) = try await env.pools.run(device) { try AccountBroker(path: path).rows(after: from, limit: limit) }
                body = try JSONEncoder().encode(ReplicaRows(senderID: summary.id, lastRow: lastRow, records: records))
                (last, count) = (lastRow, records.count)
            } else {
                let (records, lastRow) = try await env.pools.run(device) { try ContainerBroker(path: path).rows(after: from, limit: limit) }
                body = try JSONEncoder().encode(ReplicaRows(senderID: summary.id, lastRow: lastRow, records: records))
                (last, count) = (lastRow, records.count)
            }
            if count == 0 { break }
            _ = try await post(target, uri: uri, kind: "db-rows", isAccount: isAccount, body: body)
            sent += count
            point = last
        }
        return sent
    }

    private func post(_ target: RingDevice, uri: String, kind: String, isAccount: Bool, body: Data) async throws -> Data {
        var headers = HTTPHeaders()
        headers.add(name: "X-Backend-Replication", value: kind)
        headers.add(name: "X-Backend-Server", value: isAccount ? "account" : "container")
        headers.add(name: "Content-Type", value: "application/json")
        let r = try await env.client.request(host: target.ip, port: target.port, method: "POST", uri: uri, headers: headers,
                                         body: ByteBuffer(bytes: body), timeout: timeout)
        guard (200..<300).contains(r.status) else { throw ReplicationError("\(kind) answered \(r.status)") }
        return Data(r.body.readableBytesView)
    }
}
