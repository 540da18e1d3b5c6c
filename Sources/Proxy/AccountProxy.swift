import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Account requests: HEAD/GET (listing) and POST (metadata). Accounts are created on first
/// use (`account_autocreate`); PUT and DELETE of accounts are not offered to users.
struct AccountProxy {
    let context: ProxyContext
    let access: Access

    func handle(_ request: HTTPRequest, _ path: SwiftPath) async throws -> HTTPResponse {
        let account = path.account
        let (part, _) = context.rings.account.nodes(account: account)
        switch request.method {
        case "HEAD", "GET":
            let reply = await context.fanout.read(ring: context.rings.account, partition: part, method: request.method,
                                                  path: "/\(account)", query: request.query,
                                                  headers: context.backendHeaders(txid: request.transactionID).adding(request.headers, only: ["accept"]))
            guard let r = reply?.response else { throw HTTPError.serviceUnavailable("Account servers unavailable") }
            if r.status == 404 { return try autocreatedResponse(request) }
            var headers = HeaderFilter.clientHeaders(r.headers)
            if !access.isOwner { headers.removeOwnerHeaders() }
            return HTTPResponse(status: r.status, headers: headers,
                                body: request.method == "GET" && r.body.readableBytes > 0 ? .bytes(r.body) : .empty)
        case "POST":
            try context.constraints.checkMetadata(request.headers.pairs, kind: "account")
            try await ensureAccount(account, txid: request.transactionID)
            let ts = context.timestamp()
            var headers = context.backendHeaders(txid: request.transactionID, timestamp: ts)
            headers.copyMetadata(from: request.headers, kind: "account")
            if !access.isOwner { headers.removeOwnerHeaders() }
            if let acl = request.header("x-account-access-control"), access.isOwner {
                headers.replaceOrAdd(name: "X-Account-Access-Control", value: try AccountACL.normalize(acl))
            }
            context.invalidateAccount(account)
            let h = headers
            let replies = await context.fanout.write(ring: context.rings.account, partition: part, method: "POST",
                                                     path: "/\(account)", headers: { _ in h })
            return HTTPResponse(status: BestResponse.status(replies.map(\.status), replicas: replies.count))
        case "PUT", "DELETE":
            throw HTTPError(405, "Method Not Allowed: account management is not allowed")
        default:
            throw HTTPError(405, "Method Not Allowed")
        }
    }

    /// What HEAD/GET of an account that does not exist yet answers: an empty account.
    func autocreatedResponse(_ request: HTTPRequest) throws -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "X-Account-Container-Count", value: "0")
        headers.add(name: "X-Account-Object-Count", value: "0")
        headers.add(name: "X-Account-Bytes-Used", value: "0")
        headers.add(name: "X-Timestamp", value: context.timestamp().normal)
        let format = ListingFormatChoice.from(request)
        headers.add(name: "Content-Type", value: format.contentType)
        if request.method == "GET" {
            switch format.name {
            case "json": return HTTPResponse(status: 200, headers: headers, body: .bytes(ByteBuffer(string: "[]")))
            case "xml":
                return HTTPResponse(status: 200, headers: headers, body: .bytes(ByteBuffer(
                    string: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"\(request.path.split(separator: "/").last ?? "")\"></account>")))
            default: break
            }
        }
        return HTTPResponse(status: 204, headers: headers)
    }

    /// Creates the account on its replicas if it does not exist yet.
    func ensureAccount(_ account: String, txid: String) async throws {
        if context.accounts.get(account) == true { return }
        let (part, _) = context.rings.account.nodes(account: account)
        let head = await context.fanout.read(ring: context.rings.account, partition: part, method: "HEAD",
                                             path: "/\(account)", headers: context.backendHeaders(txid: txid))
        if let s = head?.status, (200..<300).contains(s) {
            context.accounts.set(account, true)
            return
        }
        let h = context.backendHeaders(txid: txid, timestamp: context.timestamp())
        let replies = await context.fanout.write(ring: context.rings.account, partition: part, method: "PUT",
                                                 path: "/\(account)", headers: { _ in h })
        let status = BestResponse.status(replies.map(\.status), replicas: replies.count)
        guard (200..<300).contains(status) else { throw HTTPError.serviceUnavailable("Could not create account \(account)") }
        context.accounts.set(account, true)
    }
}

/// The listing format a client asked for (mirrors the storage servers' choice).
struct ListingFormatChoice {
    let name: String
    var contentType: String {
        switch name {
        case "json": return "application/json; charset=utf-8"
        case "xml": return "application/xml; charset=utf-8"
        default: return "text/plain; charset=utf-8"
        }
    }

    static func from(_ request: HTTPRequest) -> ListingFormatChoice {
        if let f = (try? request.queryValue("format"))??.lowercased(), ["json", "xml", "plain"].contains(f) {
            return ListingFormatChoice(name: f)
        }
        let accept = (request.header("accept") ?? "").lowercased()
        if accept.contains("application/json") { return ListingFormatChoice(name: "json") }
        if accept.contains("xml") { return ListingFormatChoice(name: "xml") }
        return ListingFormatChoice(name: "plain")
    }
}

extension HTTPHeaders {
    /// Name/value pairs, for constraint checks.
    var pairs: [(String, String)] { map { ($0.name, $0.value) } }

    /// A copy with the named headers (if present) copied from `other`.
    func adding(_ other: HTTPHeaders, only names: [String]) -> HTTPHeaders {
        var out = self
        for n in names { for v in other[n] { out.add(name: n, value: v) } }
        return out
    }

    /// Copies the headers that set or remove metadata of an account or container.
    mutating func copyMetadata(from other: HTTPHeaders, kind: String) {
        for (name, value) in other where UserMetadata.isBrokerMetadataHeader(name, kind: kind) && !name.lowercased().contains("sysmeta") {
            add(name: name, value: value)
        }
    }
}
