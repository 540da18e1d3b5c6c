import Foundation
import HTTPServerKit
import NIOCore
import NimbusCore

/// Routes storage-node requests. One port serves the three servers of a node; the path depth
/// picks the server (`/dev/part/a` account, `/dev/part/a/c` container, `/dev/part/a/c/o`
/// object) unless the caller names another with `X-Backend-Server` — object servers send
/// `container` for object-row updates and container servers send `account` for usage reports.
struct StorageHandler: HTTPHandler {
    let objects: ObjectController
    let containers: ContainerController
    let accounts: AccountController
    let paths: StoragePaths
    let devices: Set<String>

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        if request.path == "/healthcheck" { return .text(200, "OK") }
        let p = try BackendPath.parse(request.path)
        guard devices.contains(p.device), FileManager.default.fileExists(atPath: paths.devicePath(p.device)) else {
            return .error(507)
        }
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
