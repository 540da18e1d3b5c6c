import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Static web sites (Swift's `staticweb`): for anonymous GET/HEAD (or `X-Web-Mode: true`), a
/// container with `X-Container-Meta-Web-Index` serves that object for "directories",
/// `Web-Listings` renders HTML listings, and `Web-Error` names per-status error pages.
struct StaticWebSite {
    let context: ProxyContext
    let identity: Identity?

    /// The container's web settings.
    struct Settings {
        var index = "", error = "", listings = "", label = "", css = "", directoryType = ""

        init(_ info: ContainerInfo) {
            func meta(_ key: String) -> String {
                (info.headers.first { $0.0.lowercased() == "x-container-meta-\(key)" }?.1 ?? "").trimmingCharacters(in: .whitespaces)
            }
            index = meta("web-index")
            error = meta("web-error")
            listings = meta("web-listings")
            label = meta("web-listings-label")
            css = meta("web-listings-css")
            directoryType = meta("web-directory-type")
        }

        var listingsOn: Bool { ObjectProxy.isTrue(listings) }
    }

    /// True when the request is one static web answers.
    static func applies(_ request: HTTPRequest, _ path: SwiftPath, identity: Identity?) -> Bool {
        guard ["GET", "HEAD"].contains(request.method), path.container != nil else { return false }
        return identity == nil || ObjectProxy.isTrue(request.header("x-web-mode"))
    }

    var objects: ObjectProxy { ObjectProxy(context: context, identity: identity) }

    func handle(_ request: HTTPRequest, _ path: SwiftPath) async throws -> HTTPResponse? {
        guard let container = ContainerPath(path) else { return nil }
        let info = await context.containerInfo(account: container.account, container: container.container, txid: request.transactionID)
        let settings = Settings(info)
        guard let object = ObjectPath(path) else { return try await self.container(request, container, settings) }
        return try await self.object(request, object, settings)
    }

    private func container(_ request: HTTPRequest, _ path: ContainerPath, _ web: Settings) async throws -> HTTPResponse? {
        if let denied = await denial(request, SwiftPath(account: path.account, container: path.container)) {
            return try await errorPage(request, path, web, fallback: denied)
        }
        if !web.listingsOn && web.index.isEmpty {
            return ObjectProxy.isTrue(request.header("x-web-mode")) ? .error(404) : nil
        }
        if !request.path.hasSuffix("/") { return redirectWithSlash(request) }
        if web.index.isEmpty { return try await listing(request, path, web, prefix: nil) }
        let index = try await objects.read(request, ObjectPath(account: path.account, container: path.container, object: web.index))
        if index.status == 404 { return try await listing(request, path, web, prefix: nil) }
        if !(200..<400).contains(index.status) { return try await errorPage(request, path, web, fallback: index) }
        return index
    }

    private func object(_ request: HTTPRequest, _ path: ObjectPath, _ web: Settings) async throws -> HTTPResponse {
        let response = try await objects.read(request, path)
        var status = response.status
        if (200..<400).contains(status) {
            let dirType = web.directoryType.isEmpty ? "application/directory" : web.directoryType
            let length = Int(response.headers.first(name: "content-length") ?? "0") ?? 0
            if response.headers.first(name: "content-type") == dirType && length <= 1 {
                status = 404
            } else {
                return response
            }
        }
        if status != 404 { return response }
        if !web.listingsOn && web.index.isEmpty { return response }
        let object = path.object
        if !web.index.isEmpty {
            let indexName = (object.hasSuffix("/") ? object : object + "/") + web.index
            let index = try await objects.read(request, ObjectPath(account: path.account, container: path.container, object: indexName))
            if (200..<400).contains(index.status) {
                return request.path.hasSuffix("/") ? index : redirectWithSlash(request)
            }
            status = index.status
        }
        guard status == 404 else { return response }
        if !request.path.hasSuffix("/") {
            // A "directory" exists when some object lives under it: listing rights needed (.rlistings).
            if let denied = await denial(request, SwiftPath(account: path.account, container: path.container)) {
                return try await errorPage(request, path.containerPath, web, fallback: denied)
            }
            let (rows, ok) = try await list(path.containerPath, prefix: object + "/", limit: 1, txid: request.transactionID)
            if !ok || rows.isEmpty { return try await errorPage(request, path.containerPath, web, fallback: .error(404)) }
            return redirectWithSlash(request)
        }
        return try await listing(request, path.containerPath, web, prefix: object)
    }

    /// The error response when the requester may not GET `path` (a container path means
    /// listing it), nil when allowed.
    private func denial(_ request: HTTPRequest, _ path: SwiftPath) async -> HTTPResponse? {
        do {
            _ = try await Authorizer(context: context).authorize(identity, method: "GET", path: path, referer: request.header("referer"),
                                                                 txid: request.transactionID)
            return nil
        } catch let error as HTTPError {
            return HTTPResponse.error(error.status, headers: HTTPHeaders(error.headers))
        } catch {
            return .error(500)
        }
    }

    private func redirectWithSlash(_ request: HTTPRequest) -> HTTPResponse {
        let host = request.header("host") ?? "\(context.config.host):\(context.config.port)"
        var headers = HTTPHeaders()
        let scheme = context.config.server.isTLS ? "https" : "http"
        headers.add(name: "Location", value: "\(scheme)://\(host)\(request.path)/")
        headers.add(name: "Content-Type", value: "text/html; charset=UTF-8")
        return HTTPResponse(status: 301, headers: headers, body: .bytes(ByteBuffer(string: HTTPStatusText.swiftBody(301))))
    }

    /// Serves `<status><Web-Error>` from the container with the original status, if it exists.
    private func errorPage(_ request: HTTPRequest, _ path: ContainerPath, _ web: Settings, fallback: HTTPResponse) async throws -> HTTPResponse {
        guard !web.error.isEmpty else { return fallback }
        let page = ObjectPath(account: path.account, container: path.container, object: "\(fallback.status)\(web.error)")
        // The page is read with the requester's rights, as Swift's subrequest is.
        if await denial(request, page.swiftPath) != nil { return fallback }
        let got = try await ObjectProxy(context: context, identity: identity).readWhole(page, txid: request.transactionID)
        guard let got, (200..<300).contains(got.status) else { return fallback }
        var response = got
        response.status = fallback.status
        return response
    }

    /// One page of the container listing (JSON rows) with `delimiter=/`.
    private func list(_ path: ContainerPath, prefix: String?, limit: Int? = nil, txid: String) async throws -> ([[String: Any]], Bool) {
        var query = "format=json&delimiter=/"
        if let prefix { query += "&prefix=\(PercentCoding.encodePath(prefix, keepSlash: false))" }
        if let limit { query += "&limit=\(limit)" }
        let (part, _) = context.rings.container.nodes(account: path.account, container: path.container)
        let reply = await context.fanout.read(ring: context.rings.container, partition: part, method: "GET",
                                              path: "/\(path.account)/\(path.container)", query: query,
                                              headers: context.backendHeaders(txid: txid))
        guard let r = reply?.response, (200..<300).contains(r.status) else { return ([], false) }
        let rows = (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [[String: Any]]) ?? []
        return (rows, true)
    }

    private func listing(_ request: HTTPRequest, _ path: ContainerPath, _ web: Settings, prefix: String?) async throws -> HTTPResponse {
        let decodedPath = (try? PercentCoding.decodeUTF8(request.path)) ?? request.path
        var label = decodedPath
        if !web.label.isEmpty {
            let groups = decodedPath.split(separator: "/", omittingEmptySubsequences: false)
            label = web.label + "/" + groups.dropFirst(4).joined(separator: "/")
        }
        let head = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n<html>\n"
        if !web.listingsOn {
            var body = head + "<head>\n<title>Listing of \(Self.escape(label))</title>\n"
            if !web.css.isEmpty {
                body += "  <link rel=\"stylesheet\" type=\"text/css\" href=\"\(cssPath(web.css, prefix: prefix ?? ""))\" />\n"
            } else {
                body += "  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n   p {font-size: 2}\n  </style>\n"
            }
            body += "</head>\n<body>  <h1>Web Listing Disabled</h1>   <p>The owner of this web site has disabled web listing."
                + "   <p>If you are the owner of this web site, you can enable   web listing by setting X-Container-Meta-Web-Listings.</p>"
            if !web.index.isEmpty {
                body += "<h1>Index File Not Found</h1> <p>The owner of this web site has set  <b>X-Container-Meta-Web-Index: "
                    + "\(web.index)</b>.  However, this file is not found.</p>"
            }
            body += " </body>\n</html>\n"
            let page = HTTPResponse(status: 404, headers: ["Content-Type": "text/html; charset=UTF-8"], body: .bytes(ByteBuffer(string: body)))
            return try await errorPage(request, path, web, fallback: page)
        }
        if let denied = await denial(request, SwiftPath(account: path.account, container: path.container)) {
            return try await errorPage(request, path, web, fallback: denied)
        }
        let (rows, ok) = try await list(path, prefix: prefix, txid: request.transactionID)
        if !ok { return try await errorPage(request, path, web, fallback: .error(503)) }
        if prefix != nil && rows.isEmpty { return try await errorPage(request, path, web, fallback: .error(404)) }
        var body = head + " <head>\n  <title>Listing of \(Self.escape(label))</title>\n"
        if !web.css.isEmpty {
            body += "  <link rel=\"stylesheet\" type=\"text/css\" href=\"\(cssPath(web.css, prefix: prefix ?? ""))\" />\n"
        } else {
            body += "  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n   th {text-align: left; padding: 0px 1em 0px 1em;}\n"
                + "   td {padding: 0px 1em 0px 1em;}\n   a {text-decoration: none;}\n  </style>\n"
        }
        body += " </head>\n <body>\n  <h1 id=\"title\">Listing of \(Self.escape(label))</h1>\n  <table id=\"listing\">\n"
            + "   <tr id=\"heading\">\n    <th class=\"colname\">Name</th>\n    <th class=\"colsize\">Size</th>\n"
            + "    <th class=\"coldate\">Date</th>\n   </tr>\n"
        if prefix != nil {
            body += "   <tr id=\"parent\" class=\"item\">\n    <td class=\"colname\"><a href=\"../\">../</a></td>\n"
                + "    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n"
        }
        func relative(_ name: String) -> String {
            guard let prefix, NameBytes.hasPrefix(name, prefix) else { return name }
            return NameBytes.dropPrefix(name, bytes: prefix.utf8.count)
        }
        for row in rows {
            guard let subdir = row["subdir"] as? String else { continue }
            let name = relative(subdir)
            body += "   <tr class=\"item subdir\">\n    <td class=\"colname\"><a href=\"\(PercentCoding.encodePath(name))\">\(Self.escape(name))</a></td>\n"
                + "    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n"
        }
        for row in rows {
            guard let full = row["name"] as? String else { continue }
            let name = relative(full)
            let type = row["content_type"] as? String ?? ""
            let classes = type.split(separator: "/", omittingEmptySubsequences: false).map { "type-" + Self.escape($0.lowercased()) }
            let modified = Self.escape(row["last_modified"] as? String ?? "").split(separator: ".").first.map(String.init)?
                .replacingOccurrences(of: "T", with: " ") ?? ""
            body += "   <tr class=\"item \(classes.joined(separator: " "))\">\n"
                + "    <td class=\"colname\"><a href=\"\(PercentCoding.encodePath(name))\">\(Self.escape(name))</a></td>\n"
                + "    <td class=\"colsize\">\(Self.humanReadable((row["bytes"] as? NSNumber)?.int64Value ?? 0))</td>\n"
                + "    <td class=\"coldate\">\(modified)</td>\n   </tr>\n"
        }
        body += "  </table>\n </body>\n</html>\n"
        let buffer = ByteBuffer(string: body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/html; charset=UTF-8")
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        return HTTPResponse(status: 200, headers: headers, body: request.method == "HEAD" ? .empty : .bytes(buffer))
    }

    private func cssPath(_ css: String, prefix: String) -> String {
        if css.hasPrefix("/") || css.hasPrefix("http://") || css.hasPrefix("https://") {
            return PercentCoding.encodePath(css).replacingOccurrences(of: "%3A", with: ":")
        }
        return String(repeating: "../", count: prefix.filter { $0 == "/" }.count) + PercentCoding.encodePath(css)
    }

    /// Python's `html.escape`.
    static func escape(_ s: some StringProtocol) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#x27;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Swift's `human_readable`: 1023, 1Ki, 5Mi…
    static func humanReadable(_ bytes: Int64) -> String {
        var value = Double(bytes)
        var index = -1
        let suffixes = Array("KMGTPEZY")
        while value >= 1024 && index + 1 < suffixes.count {
            index += 1
            value = (value / 1024).rounded(.toNearestOrEven)
        }
        if index == -1 { return String(Int64(value)) }
        return "\(Int64(value.rounded(.toNearestOrEven)))\(suffixes[index])i"
    }
}
