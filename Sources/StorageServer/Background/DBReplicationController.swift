import DBBroker
import Foundation
import HTTPServerKit
import NIOCore
import NimbusCore

/// The receiving side of container and account DB replication (`X-Backend-Replication:
/// db-sync|db-rows` on `POST /<dev>/<part>/<hash>`, `X-Backend-Server` naming the DB kind):
/// `db-sync` merges the peer's timestamps and metadata (creating the DB if this replica lost
/// it) and answers how far this replica has merged the peer's rows; `db-rows` merges a batch.
struct DBReplicationController: Sendable {
    let paths: StoragePaths
    let pools: DevicePools
    let reporter: ContainerReporter
    let clock: any WallClock

    struct SyncAnswer: Codable {
        var created: Bool
        var syncPoint: Int64
        var maxRow: Int64
    }

    func handle(_ request: HTTPRequest, kind: String) async throws -> HTTPResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        guard request.method == "POST", parts.count == 3, let partition = Int(parts[1]), parts[2].count == 32,
              parts[2].allSatisfy(\.isHexDigit) else { throw HTTPError.badRequest("Bad DB replication request") }
        let device = try PercentCoding.decodeUTF8(parts[0])
        // The device was checked (on its pool) before the request got here.
        let isAccount = request.header("x-backend-server")?.lowercased() == "account"
        let hash = parts[2]
        let path = "\(paths.devicePath(device))/\(isAccount ? "accounts" : "containers")/\(partition)/\(hash.suffix(3))/\(hash)/\(hash).db"
        let body = Data(try await request.body.collect(limit: 64 << 20).readableBytesView)
        switch kind {
        case "db-sync":
            let summary = try JSONDecoder().decode(ReplicaSummary.self, from: body)
            let now = Timestamp.now(clock)
            let answer: SyncAnswer = try await pools.run(device) {
                var created = false
                if !FileManager.default.fileExists(atPath: path) {
                    let put = Timestamp(summary.putTimestamp) ?? .zero
                    if isAccount {
                        created = try AccountBroker.create(path: path, account: summary.account, putTimestamp: put, createdAt: now)
                    } else {
                        created = try ContainerBroker.create(path: path, account: summary.account, container: summary.container ?? "",
                                                             putTimestamp: put, createdAt: now)
                    }
                }
                if isAccount {
                    let b = try AccountBroker(path: path)
                    try b.mergeReplicaSummary(summary)
                    return SyncAnswer(created: created, syncPoint: try b.incomingSyncPoint(summary.id), maxRow: try b.replicaSummary().maxRow)
                }
                let b = try ContainerBroker(path: path)
                try b.mergeReplicaSummary(summary)
                return SyncAnswer(created: created, syncPoint: try b.incomingSyncPoint(summary.id), maxRow: try b.replicaSummary().maxRow)
            }
            if !isAccount, let container = summary.container {
                await reporter.markDirty(db: path, account: summary.account, container: container)
            }
            let data = try JSONEncoder().encode(answer)
            return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: .bytes(ByteBuffer(bytes: data)))
        case "db-rows":
            let names: (String, String)? = try await pools.run(device) {
                if isAccount {
                    try AccountBroker(path: path).mergeReplica(try JSONDecoder().decode(ReplicaRows<ContainerRecord>.self, from: body))
                    return nil
                }
                let b = try ContainerBroker(path: path)
                try b.mergeReplica(try JSONDecoder().decode(ReplicaRows<ObjectRecord>.self, from: body))
                let i = try b.info()
                return (i.account, i.container)
            }
            // New rows change the container's usage: the account hears of it.
            if let (account, container) = names { await reporter.markDirty(db: path, account: account, container: container) }
            return HTTPResponse(status: 204)
        default:
            throw HTTPError.badRequest("Unknown DB replication request \(kind)")
        }
    }
}
