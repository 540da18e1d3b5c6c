import DBBroker
import Foundation
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore

/// The container server: container DBs, their object rows, metadata and listings.
struct ContainerController: Sendable {
    let paths: StoragePaths
    let pools: DevicePools
    let reporter: ContainerReporter
    let rows: ContainerRowBatcher
    let constraints: Constraints
    let clock: any WallClock
    let logger: Logger

    static func metadataUpdates(_ request: HTTPRequest) -> [String: String] {
        UserMetadata.brokerUpdates(request.headers.map { (name: $0.name, value: $0.value) }, kind: "container")
    }

    func handle(_ request: HTTPRequest, _ p: BackendPath) async throws -> HTTPResponse {
        let db = paths.containerDB(device: p.device, partition: p.partition, account: p.account, container: p.container!)
        if let object = p.object { return try await objectRow(request, p, db: db, object: object) }
        switch request.method {
        case "PUT": return try await put(request, p, db: db)
        case "DELETE": return try await delete(request, p, db: db)
        case "POST":
            let ts = try request.requiredTimestamp()
            let updates = Self.metadataUpdates(request)
            return try await pools.run(p.device) {
                let broker = try ContainerBroker(path: db)
                if try broker.info().isDeleted { return HTTPResponse(status: 404) }
                try broker.updateMetadata(updates, at: ts, constraints: constraints)
                // A POST moves the container's Last-Modified, as in OpenStack Swift.
                try broker.updatePutTimestamp(ts)
                return HTTPResponse(status: 204)
            }
        case "HEAD", "GET": return try await read(request, p, db: db)
        default: throw HTTPError(405, "Method not allowed")
        }
    }

    static func accountTarget(_ request: HTTPRequest) -> ContainerReporter.AccountTarget? {
        guard let host = request.header("x-account-host"), let device = request.header("x-account-device"),
              let partition = request.header("x-account-partition"),
              let (h, port) = ContainerUpdateSender.splitHost(host) else { return nil }
        return ContainerReporter.AccountTarget(host: h, port: port, device: device, partition: partition)
    }

    func put(_ request: HTTPRequest, _ p: BackendPath, db: String) async throws -> HTTPResponse {
        let ts = try request.requiredTimestamp()
        let now = Timestamp.now(clock)
        guard let container = p.container else { throw HTTPError.badRequest("No container") }
        let updates = Self.metadataUpdates(request)
        let (status, info): (Int, ContainerInfo) = try await pools.run(p.device) {
            let created = try ContainerBroker.create(path: db, account: p.account, container: container, putTimestamp: ts,
                                                     createdAt: now)
            let broker = try ContainerBroker(path: db)
            let wasDeleted = try broker.info().isDeleted
            if !created { try broker.updatePutTimestamp(ts) }
            try broker.updateMetadata(updates, at: ts, constraints: constraints)
            return (created || wasDeleted ? 201 : 202, try broker.info())
        }
        await reporter.report(info: info, db: db, txid: request.transactionID, target: Self.accountTarget(request))
        return HTTPResponse(status: status)
    }

    func delete(_ request: HTTPRequest, _ p: BackendPath, db: String) async throws -> HTTPResponse {
        let ts = try request.requiredTimestamp()
        let (status, info): (Int, ContainerInfo?) = try await pools.run(p.device) {
            let broker = try ContainerBroker(path: db)
            let info = try broker.info()
            if info.isDeleted { return (404, nil) }
            if info.objectCount > 0 { return (409, nil) }
            try broker.markDeleted(ts)
            return (204, try broker.info())
        }
        if let info { await reporter.report(info: info, db: db, txid: request.transactionID, target: Self.accountTarget(request)) }
        if status == 409 { return .error(409) }
        return HTTPResponse(status: status)
    }

    func objectRow(_ request: HTTPRequest, _ p: BackendPath, db: String, object: String) async throws -> HTTPResponse {
        let ts = try request.requiredTimestamp()
        let record: ObjectRecord
        switch request.method {
        case "PUT":
            record = ObjectRecord(name: object, createdAt: ts, size: max(0, Int64(request.header("x-size") ?? "0") ?? 0),
                                  contentType: request.header("x-content-type") ?? "application/octet-stream",
                                  etag: request.header("x-etag") ?? "")
        case "DELETE":
            record = ObjectRecord(name: object, createdAt: ts, size: 0, contentType: "", etag: "", deleted: true)
        default:
            throw HTTPError(405, "Method not allowed")
        }
        try await rows.merge(record, db: db, device: p.device)
        await reporter.markDirty(db: db, account: p.account, container: p.container!)
        return HTTPResponse(status: request.method == "PUT" ? 201 : 204)
    }

    func read(_ request: HTTPRequest, _ p: BackendPath, db: String) async throws -> HTTPResponse {
        let (query, format) = try ListingRequest.parse(request, maxLimit: constraints.containerListingLimit)
        let isGet = request.method == "GET"
        return try await pools.run(p.device) {
            let broker: ContainerBroker
            do { broker = try ContainerBroker(path: db) } catch { return HTTPResponse(status: 404) }
            let info = try broker.info()
            if info.isDeleted { return HTTPResponse(status: 404, headers: ["X-Backend-Timestamp": info.deleteTimestamp.internalForm]) }
            var headers = HTTPHeaders()
            headers.add(name: "X-Container-Object-Count", value: String(info.objectCount))
            headers.add(name: "X-Container-Bytes-Used", value: String(info.bytesUsed))
            headers.add(name: "X-Timestamp", value: info.createdAt.normal)
            headers.add(name: "X-Put-Timestamp", value: info.putTimestamp.normal)
            headers.add(name: "X-Backend-Put-Timestamp", value: info.putTimestamp.internalForm)
            headers.add(name: "X-Backend-Delete-Timestamp", value: info.deleteTimestamp.internalForm)
            headers.add(name: "Last-Modified", value: HTTPDate.format(info.putTimestamp.ceilSeconds))
            headers.add(name: "X-Storage-Policy", value: "Policy-0")
            for (k, v) in info.metadata.visible { headers.add(name: k, value: v) }
            headers.add(name: "Content-Type", value: format.contentType)
            guard isGet else {
                headers.add(name: "Content-Length", value: "0")
                return HTTPResponse(status: 204, headers: headers)
            }
            let entries = try broker.list(query)
            if entries.isEmpty && format == .plain { return HTTPResponse(status: 204, headers: headers) }
            return HTTPResponse(status: 200, headers: headers,
                                body: .bytes(ListingFormatter.render(entries, format: format, root: "container", account: p.account, name: p.container!)))
        }
    }
}
