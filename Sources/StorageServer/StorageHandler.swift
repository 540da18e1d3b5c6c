import Foundation
import HTTPServerKit
import NIOCore
import NimbusCore
import Ring

/// Routes storage-node requests. One port serves the three servers of a node; the path depth
/// picks the server (`/dev/part/a` account, `/dev/part/a/c` container, `/dev/part/a/c/o`
/// object) unless the caller names another with `X-Backend-Server` — object servers send
/// `container` for object-row updates and container servers send `account` for usage reports.
struct StorageHandler: HTTPHandler {
    /// Errors as OpenStack Swift shows them.
    func errorResponse(_ error: HTTPError) -> HTTPResponse { .swiftError(error) }

    let objects: ObjectController
    let containers: ContainerController
    let accounts: AccountController
    let objectReplication: ObjectReplicationController
    let dbReplication: DBReplicationController
    let stats: NodeStats
    let paths: StoragePaths
    let devices: Set<String>
    /// The rings, for the highest partition number a request may name.
    let rings: RingWatcher
    /// The device's mount point is checked on its own pool (a stat can block on a sick disk).
    let pools: DevicePools

    /// Every storage request (replication included) names one of this node's devices and a
    /// partition the rings have: anything else would read or create paths outside them.
    func checkDeviceAndPartition(_ path: String) async throws {
        let parts = path.dropFirst().split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let device = try? PercentCoding.decodeUTF8(parts[0]), devices.contains(device) else {
            throw HTTPError(507, "No such device")
        }
        let devicePath = paths.devicePath(device)
        guard (try? await pools.run(device) { FileManager.default.fileExists(atPath: devicePath) }) == true else {
            throw HTTPError(507, "Device \(device) is not available")
        }
        let partitions = RingWatcher.Kind.allCases.compactMap { rings.ring($0)?.partitionCount }.max() ?? (1 << 32)
        guard parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let partition = Int(parts[1]), partition < partitions else {
            throw HTTPError.badRequest("Invalid partition \(parts[1])")
        }
    }

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        if request.path == "/healthcheck" { return .text(200, "OK") }
        if request.path == "/recon" {
            let data = try JSONEncoder().encode(await stats.snapshot)
            return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: .bytes(ByteBuffer(bytes: data)))
        }
        if request.path == "/metrics" {
            let text = await stats.prometheus(node: devices.sorted().joined(separator: ","))
            return .text(200, text, headers: ["Content-Type": "text/plain; version=0.0.4"])
        }
        try await checkDeviceAndPartition(request.path)
        if let kind = request.header(ObjectReplicationController.header)?.lowercased() {
            return kind.hasPrefix("db-") ? try await dbReplication.handle(request, kind: kind) : try await objectReplication.handle(request, kind: kind)
        }
        let p = try BackendPath.parse(request.path)
        switch request.header("x-backend-server")?.lowercased() {
        case "container" where p.container != nil: return try await containers.handle(request, p)
        case "account": return try await accounts.handle(request, p)
        case .some(let other) where other != "object" && other != "container":
            throw HTTPError.badRequest("Unknown X-Backend-Server \(other)")
        default:
            if p.object != nil { return try await objects.handle(request, p) }
            if p.container != nil { return try await containers.handle(request, p) }
            return try await accounts.handle(request, p)
        }
    }
}
