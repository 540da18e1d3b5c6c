import DBBroker
import Foundation
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore

/// The account server: account DBs with container rows, usage totals, metadata and listings.
struct AccountController: Sendable {
    let paths: StoragePaths
    let pools: DevicePools
    let constraints: Constraints
    let clock: any WallClock

    static func metadataUpdates(_ request: HTTPRequest) -> [String: String] {
        UserMetadata.brokerUpdates(request.headers.map { (name: $0.name, value: $0.value) }, kind: "account")
    }

    func handle(_ request: HTTPRequest, _ p: BackendPath) async throws -> HTTPResponse {
        let db = paths.accountDB(device: p.device, partition: p.partition, account: p.account)
        if let container = p.container { return try await containerReport(request, p, db: db, container: container) }
        switch request.method {
        case "PUT":
            let ts = try request.requiredTimestamp()
            let now = Timestamp.now(clock)
            let updates = Self.metadataUpdates(request)
            return try await pools.run(p.device) {
                let created = try AccountBroker.create(path: db, account: p.account, putTimestamp: ts, createdAt: now)
                let broker = try AccountBroker(path: db)
                let wasDeleted = try broker.info().isDeleted
                if !created { try broker.updatePutTimestamp(ts) }
                try broker.updateMetadata(updates, at: ts, constraints: constraints)
                return HTTPResponse(status: created || wasDeleted ? 201 : 202)
            }
        case "POST":
            let ts = try request.requiredTimestamp()
            let updates = Self.metadataUpdates(request)
            return try await pools.run(p.device) {
                let broker = try AccountBroker(path: db)
                if try broker.info().isDeleted { return HTTPResponse(status: 404) }
                try broker.updateMetadata(updates, at: ts, constraints: constraints)
                return HTTPResponse(status: 204)
            }
        case "DELETE":
            let ts = try request.requiredTimestamp()
            return try await pools.run(p.device) {
                let broker = try AccountBroker(path: db)
                if try broker.info().isDeleted { return HTTPResponse(status: 404) }
                try broker.markDeleted(ts)
                return HTTPResponse(status: 204)
            }
        case "HEAD", "GET":
            return try await read(request, p, db: db)
        default:
            throw HTTPError(405, "Method not allowed")
        }
    }

    /// A container server's report of one container (PUT, DELETE or new usage).
    func containerReport(_ request: HTTPRequest, _ p: BackendPath, db: String, container: String) async throws -> HTTPResponse {
        guard request.method == "PUT" else { throw HTTPError(405, "Method not allowed") }
        let put = Timestamp(request.header("x-put-timestamp") ?? "0") ?? .zero
        let del = Timestamp(request.header("x-delete-timestamp") ?? "0") ?? .zero
        let record = ContainerRecord(name: container, putTimestamp: put, deleteTimestamp: del,
                                     objectCount: Int64(request.header("x-object-count") ?? "0") ?? 0,
                                     bytesUsed: Int64(request.header("x-bytes-used") ?? "0") ?? 0)
        return try await pools.run(p.device) {
            let broker: AccountBroker
            do { broker = try AccountBroker(path: db) } catch { return HTTPResponse(status: 404) }
            if try broker.info().isDeleted { return HTTPResponse(status: 404) }
            try broker.merge([record])
            return HTTPResponse(status: 201)
        }
    }

    func read(_ request: HTTPRequest, _ p: BackendPath, db: String) async throws -> HTTPResponse {
        let (query, format) = try ListingRequest.parse(request, maxLimit: constraints.accountListingLimit)
        let isGet = request.method == "GET"
        return try await pools.run(p.device) {
            let broker: AccountBroker
            do { broker = try AccountBroker(path: db) } catch { return HTTPResponse(status: 404) }
            let info = try broker.info()
            if info.isDeleted { return HTTPResponse(status: 404) }
            var headers = HTTPHeaders()
            headers.add(name: "X-Account-Container-Count", value: String(info.containerCount))
            headers.add(name: "X-Account-Object-Count", value: String(info.objectCount))
            headers.add(name: "X-Account-Bytes-Used", value: String(info.bytesUsed))
            headers.add(name: "X-Timestamp", value: info.createdAt.normal)
            headers.add(name: "X-Put-Timestamp", value: info.putTimestamp.normal)
            headers.add(name: "X-Account-Storage-Policy-Policy-0-Container-Count", value: String(info.containerCount))
            headers.add(name: "X-Account-Storage-Policy-Policy-0-Object-Count", value: String(info.objectCount))
            headers.add(name: "X-Account-Storage-Policy-Policy-0-Bytes-Used", value: String(info.bytesUsed))
            for (k, v) in info.metadata.visible { headers.add(name: k, value: v) }
            headers.add(name: "Content-Type", value: format.contentType)
            guard isGet else {
                headers.add(name: "Content-Length", value: "0")
                return HTTPResponse(status: 204, headers: headers)
            }
            let entries = try broker.list(query)
            if entries.isEmpty && format == .plain { return HTTPResponse(status: 204, headers: headers) }
            return HTTPResponse(status: 200, headers: headers,
                                body: .bytes(ListingFormatter.render(entries, format: format, root: "account", account: p.account, name: p.account)))
        }
    }
}
