import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Cross-origin resource sharing as Swift's proxy does it, driven by the container's
/// `X-Container-Meta-Access-Control-Allow-Origin` (space-separated origins or `*`),
/// `-Max-Age` and `-Expose-Headers`, in strict mode (other origins get no CORS headers).
struct CORS {
    let context: ProxyContext

    struct Rules {
        let allowOrigin: String?
        let maxAge: String?
        let exposeHeaders: String?

        init(_ info: ContainerInfo) {
            func meta(_ key: String) -> String? { info.headers.first { $0.0.lowercased() == "x-container-meta-access-control-\(key)" }?.1 }
            allowOrigin = meta("allow-origin")
            maxAge = meta("max-age")
            exposeHeaders = meta("expose-headers")
        }

        func allows(_ origin: String) -> Bool {
            let origins = (allowOrigin ?? "").split(separator: " ").map { $0.trimmingCharacters(in: .whitespaces) }
            return origins.contains(origin) || origins.contains("*")
        }

        var wildcard: Bool { allowOrigin?.trimmingCharacters(in: .whitespaces) == "*" }
    }

    static func allowedMethods(_ path: SwiftPath) -> [String] {
        path.object != nil ? ["COPY", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"] : ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]
    }

    /// `OPTIONS`: the allowed methods, and for a preflight from an allowed origin the CORS
    /// grant; a preflight from any other origin (or for another method) gets 401.
    func preflight(_ request: HTTPRequest, _ path: SwiftPath) async -> HTTPResponse {
        let methods = Self.allowedMethods(path)
        var headers = HTTPHeaders()
        headers.add(name: "Allow", value: methods.joined(separator: ", "))
        guard let origin = request.header("origin"), let container = path.container else {
            return HTTPResponse(status: 200, headers: headers)
        }
        let rules = Rules(await context.containerInfo(account: path.account, container: container, txid: request.transactionID))
        guard rules.allows(origin), let method = request.header("access-control-request-method"), methods.contains(method) else {
            return HTTPResponse(status: 401, headers: headers)
        }
        var vary: [String] = []
        if rules.wildcard {
            headers.add(name: "Access-Control-Allow-Origin", value: "*")
        } else {
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            vary.append("Origin")
        }
        if let maxAge = rules.maxAge { headers.add(name: "Access-Control-Max-Age", value: maxAge) }
        headers.add(name: "Access-Control-Allow-Methods", value: methods.joined(separator: ", "))
        let asked = (request.header("access-control-request-headers") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if !asked.isEmpty {
            headers.add(name: "Access-Control-Allow-Headers", value: asked.joined(separator: ", "))
            vary.append("Access-Control-Request-Headers")
        }
        if !vary.isEmpty { headers.add(name: "Vary", value: vary.joined(separator: ", ")) }
        return HTTPResponse(status: 200, headers: headers)
    }

    /// Adds the CORS grant to an actual request's response when its origin is allowed.
    func decorate(_ response: HTTPResponse, _ request: HTTPRequest, _ path: SwiftPath) async -> HTTPResponse {
        guard let origin = request.header("origin"), let container = path.container else { return response }
        let rules = Rules(await context.containerInfo(account: path.account, container: container, txid: request.transactionID))
        guard rules.allows(origin) else { return response }
        var r = response
        if !r.headers.contains(name: "access-control-expose-headers") {
            var expose = ["cache-control", "content-language", "content-type", "expires", "last-modified", "pragma", "etag",
                          "x-timestamp", "x-trans-id", "x-openstack-request-id"]
            for (name, _) in r.headers {
                let l = name.lowercased()
                if (l.hasPrefix("x-container-meta") || l.hasPrefix("x-object-meta")) && !expose.contains(l) { expose.append(l) }
            }
            for h in (rules.exposeHeaders ?? "").split(separator: " ") {
                let l = h.trimmingCharacters(in: .whitespaces).lowercased()
                if !l.isEmpty && !expose.contains(l) { expose.append(l) }
            }
            r.headers.add(name: "Access-Control-Expose-Headers", value: expose.joined(separator: ", "))
        }
        if !r.headers.contains(name: "access-control-allow-origin") {
            if rules.wildcard {
                r.headers.add(name: "Access-Control-Allow-Origin", value: "*")
            } else {
                r.headers.add(name: "Access-Control-Allow-Origin", value: origin)
                r.headers.add(name: "Vary", value: "Origin")
            }
        }
        return r
    }
}
