import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Deletes many objects (then containers) for one request, as Swift's bulk middleware does
/// for `?bulk-delete` and SLO's `?multipart-manifest=delete`: two at a time, each with the
/// requester's rights, answering 200 with a summary body (whitespace first while it works).
struct BulkDeleter: Sendable {
    /// One name to delete, or the error met while finding it.
    struct Target: Sendable {
        /// `/container/object` or `/container`, not percent-encoded.
        let name: String
        let error: HTTPError?
    }

    let proxy: ObjectProxy
    let account: String
    let referer: String?
    let txid: String
    static let concurrency = 2
    static let maxFailures = 1000
    static let maxDeletes = 10000

    /// A 200 response whose body reports what was deleted.
    func response(targets: [Target], format: String, prelude: HTTPError? = nil) -> HTTPResponse {
        BulkResponse.streamed(format: format, root: "delete") { await self.run(targets, prelude: prelude) }
    }

    /// Deletes objects first, then containers, and summarizes.
    func run(_ targets: [Target], prelude: HTTPError?) async -> BulkResponse {
        var result = BulkResponse()
        result["Response Status"] = .string(HTTPStatusText.statusLine(200))
        result["Response Body"] = .string("")
        result["Number Deleted"] = .int(0)
        result["Number Not Found"] = .int(0)
        if let prelude {
            result["Response Status"] = .string(HTTPStatusText.statusLine(prelude.status))
            result["Response Body"] = .string(prelude.reason)
            return result
        }
        var failureStatus = 400
        let isObject: (String) -> Bool = { NameBytes.contains(NameBytes.trim($0)) }
        for pass in [targets.filter { isObject($0.name) }, targets.filter { !isObject($0.name) }] {
            var work: [Target] = []
            for t in pass where !t.name.isEmpty {
                if let error = t.error {
                    if error.status == 404 { result.count("Number Not Found") } else {
                        result.errors.append((PercentCoding.encodePath(t.name), error.reason))
                    }
                } else {
                    work.append(t)
                }
            }
            var index = 0
            while index < work.count && result.errors.count < Self.maxFailures {
                let batch = work[index..<min(work.count, index + Self.concurrency)]
                index += batch.count
                let statuses = await withTaskGroup(of: (Int, Int).self) { group -> [(Int, Int)] in
                    for (i, t) in batch.enumerated() { group.addTask { (i, await self.delete(t.name)) } }
                    var out: [(Int, Int)] = []
                    for await r in group { out.append(r) }
                    return out.sorted { $0.0 < $1.0 }
                }
                for (i, status) in statuses {
                    let name = batch[batch.startIndex + i].name
                    switch status {
                    case 200..<300: result.count("Number Deleted")
                    case 404: result.count("Number Not Found")
                    default:
                        if status >= 500 { failureStatus = 502 }
                        result.errors.append((PercentCoding.encodePath(name), HTTPStatusText.statusLine(status)))
                    }
                }
            }
        }
        if !result.errors.isEmpty {
            result["Response Status"] = .string(HTTPStatusText.statusLine(failureStatus))
        } else if result["Number Deleted"] == .int(0) && result["Number Not Found"] == .int(0) {
            result["Response Status"] = .string(HTTPStatusText.statusLine(400))
            result["Response Body"] = .string("Invalid bulk delete.")
        }
        return result
    }

    /// Deletes one object or container; answers its status.
    func delete(_ name: String) async -> Int {
        let trimmed = NameBytes.hasPrefix(name, "/") ? NameBytes.dropPrefix(name, bytes: 1) : name
        let path: SwiftPath
        if let (c, o) = NameBytes.splitOnce(trimmed, "/"), !o.isEmpty {
            path = SwiftPath(account: account, container: c, object: o)
        } else {
            path = SwiftPath(account: account, container: trimmed.hasSuffix("/") ? String(trimmed.dropLast()) : trimmed)
        }
        do {
            try SwiftPath.validate(path, constraints: proxy.context.constraints)
            let access = try await Authorizer(context: proxy.context).authorize(proxy.identity, method: "DELETE", path: path,
                                                                                referer: referer, txid: txid)
            if let object = ObjectPath(path) {
                return try await proxy.deleteObject(object, txid: txid)
            }
            guard let container = ContainerPath(path) else { return 400 }
            return try await ContainerProxy(context: proxy.context, access: access).deleteContainer(container, txid: txid)
        } catch let error as HTTPError {
            return error.status
        } catch {
            return 500
        }
    }
}
