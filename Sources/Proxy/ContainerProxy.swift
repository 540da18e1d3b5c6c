import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Container requests: PUT (creating the account on first use), POST, DELETE, HEAD and GET.
struct ContainerProxy {
    let context: ProxyContext
    let access: Access

    func handle(_ request: HTTPRequest, _ path: ContainerPath) async throws -> HTTPResponse {
        let account = path.account
        let container = path.container
        let (part, _) = context.rings.container.nodes(account: account, container: container)
        let backendPath = "/\(account)/\(container)"
        switch request.method {
        case "HEAD", "GET":
            let reply = await context.fanout.read(ring: context.rings.container, partition: part, method: request.method,
                                                  path: backendPath, query: request.query,
                                                  headers: context.backendHeaders(txid: request.transactionID).adding(request.headers, only: ["accept"]))
            guard let r = reply?.response else { throw HTTPError.serviceUnavailable("Container servers unavailable") }
            if r.status == 404 { return .error(404) }
            var headers = HeaderFilter.clientHeaders(r.headers)
            VersionHistory.clientHeaders(&headers, backend: r.headers)
            if !access.isOwner { headers.removeOwnerHeaders() }
            return HTTPResponse(status: r.status, headers: headers,
                                body: request.method == "GET" && r.body.readableBytes > 0 ? .bytes(r.body) : .empty)
        case "PUT":
            try context.constraints.checkMetadata(request.headers.pairs, kind: "container")
            if let policy = request.header("x-storage-policy"), !policy.isEmpty, policy.lowercased() != "policy-0" {
                throw HTTPError.badRequest("Invalid X-Storage-Policy \(policy)")
            }
            try await AccountProxy(context: context, access: access).ensureAccount(account, txid: request.transactionID)
            let (clientHeaders, sysmeta) = try VersionHistory.containerWrite(request.headers)
            let staged = context.scope?.containerSysmeta ?? []
            context.scope?.containerSysmeta = []
            let status = try await write(clientHeaders, txid: request.transactionID, method: "PUT", account: account,
                                         container: container, partition: part, sysmeta: sysmeta + staged)
            context.invalidateContainer(account: account, container: container)
            return HTTPResponse(status: status)
        case "POST":
            try context.constraints.checkMetadata(request.headers.pairs, kind: "container")
            let (clientHeaders, sysmeta) = try VersionHistory.containerWrite(request.headers)
            let staged = context.scope?.containerSysmeta ?? []
            context.scope?.containerSysmeta = []
            let status = try await write(clientHeaders, txid: request.transactionID, method: "POST", account: account,
                                         container: container, partition: part, sysmeta: sysmeta + staged)
            context.invalidateContainer(account: account, container: container)
            return status == 404 ? .error(404) : HTTPResponse(status: status)
        case "DELETE":
            let status = try await deleteContainer(path, txid: request.transactionID)
            switch status {
            case 404: return .error(404)
            case 409: return .error(409)
            default: return HTTPResponse(status: status)
            }
        default:
            throw HTTPError(405, "Method Not Allowed")
        }
    }

    /// Deletes the (empty) container; answers the replicas' verdict.
    func deleteContainer(_ path: ContainerPath, txid: String) async throws -> Int {
        let (part, _) = context.rings.container.nodes(account: path.account, container: path.container)
        let status = try await write(HTTPHeaders(), txid: txid, method: "DELETE", account: path.account, container: path.container,
                                     partition: part)
        context.invalidateContainer(account: path.account, container: path.container)
        return status
    }

    /// Sends a container write to its replicas, each paired with one account replica to update.
    func write(_ clientHeaders: HTTPHeaders, txid: String, method: String, account: String, container: String,
               partition: Int, sysmeta: [(String, String)] = []) async throws -> Int {
        let ts = context.timestamp()
        var base = context.backendHeaders(txid: txid, timestamp: ts)
        if method != "DELETE" {
            base.copyMetadata(from: clientHeaders, kind: "container")
            for (k, v) in sysmeta { base.add(name: k, value: v) }
            if !access.isOwner { base.removeOwnerHeaders() }
            for name in ["x-container-read", "x-container-write"] {
                guard let v = base.first(name: name) else { continue }
                let acl = try ContainerACL(v)
                // Referrer rules grant anonymous access: never for writes (Swift's clean_acl).
                if name == "x-container-write" && !acl.referrers.isEmpty {
                    throw HTTPError.badRequest("Referrers not allowed in write ACL: '\(v)'")
                }
            }
        }
        let (accountPart, accountNodes) = context.rings.account.nodes(account: account)
        let headers = base
        let replies = await context.fanout.write(ring: context.rings.container, partition: partition, method: method,
                                                 path: "/\(account)/\(container)") { i in
            var h = headers
            if !accountNodes.isEmpty {
                let node = accountNodes[i % accountNodes.count]
                h.add(name: "X-Account-Host", value: node.address)
                h.add(name: "X-Account-Device", value: node.device)
                h.add(name: "X-Account-Partition", value: String(accountPart))
            }
            return h
        }
        return BestResponse.status(replies.map(\.status), replicas: replies.count)
    }
}
