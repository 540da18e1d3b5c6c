import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// The proxy's front door: `/auth/v1.0`, `/info`, `/healthcheck`, and `/v1/<account>/…`
/// after tempauth has checked the token.
struct ProxyHandler: HTTPHandler {
    /// Errors as OpenStack Swift shows them.
    func errorResponse(_ error: HTTPError) -> HTTPResponse { .swiftError(error) }

    let context: ProxyContext

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        switch request.path {
        case "/healthcheck": return .text(200, "OK")
        case "/info": return try info(request)
        case "/auth/v1.0", "/auth/v1.0/", "/v1.0", "/v1.0/", "/auth/v1", "/auth/v1/": return try await authenticate(request)
        default: break
        }
        let path = try SwiftPath.parse(request.path, constraints: context.constraints)
        for (name, value) in request.headers where value.utf8.count > context.constraints.maxHeaderSize {
            throw HTTPError.badRequest("Header value too long: \(name.prefix(64))")
        }
        if request.method == "OPTIONS" { return await CORS(context: context).preflight(request, path) }
        let response = try await route(request, path)
        return await CORS(context: context).decorate(response, request, path)
    }

    /// Authenticates (token or temp URL) and hands the request to its middleware or controller.
    func route(_ request: HTTPRequest, _ path: SwiftPath) async throws -> HTTPResponse {
        var identity: Identity?
        if let tempURL = TempURL(query: (try? request.queryItems()) ?? [], now: context.clock.now()) {
            let id = try await tempURL.authorize(request, path, context: context)
            let response = try await ObjectProxy(context: context, identity: id).handle(request, path)
            return tempURL.outgoing(response, request: request, path: path)
        }
        if let token = request.header("x-auth-token") ?? request.header("x-storage-token") {
            let known = context.auth.validate(token)
            let fromKeystone = known == nil ? await context.keystone?.validate(token, logger: context.logger) : nil
            guard let id = known ?? fromKeystone else { throw unauthorized(path.account) }
            identity = id
        }
        if path.container != nil, let boundary = FormPost.boundary(request) {
            return try await FormPost(context: context).handle(request, path, boundary: boundary)
        }
        if request.method == "PUT", let type = try? request.queryValue("extract-archive") {
            guard let compression = BulkExtractor.compression(type) else { throw HTTPError.badRequest("Unsupported archive format") }
            let extractor = BulkExtractor(proxy: ObjectProxy(context: context, identity: identity), txid: request.transactionID,
                                          referer: request.header("referer"))
            guard let format = BulkResponse.format(accept: request.header("accept")) else {
                return BulkResponse.streamed(format: "text/plain", root: "extract") { BulkExtractor.failure(406, nil) }
            }
            return try await extractor.response(request, path, compression: compression, format: format)
        }
        if ["POST", "DELETE"].contains(request.method), (try? request.queryItems())?.contains(where: { $0.0 == "bulk-delete" }) == true {
            return try await bulkDelete(request, path, identity: identity)
        }
        let staticWeb = StaticWeb.applies(request, path, identity: identity) ? StaticWeb(context: context, identity: identity) : nil
        if let staticWeb, path.object == nil, let response = try await staticWeb.handle(request, path) { return response }
        let access = try await Authorizer(context: context).authorize(identity, method: request.method, path: path,
                                                                       referer: request.header("referer"), txid: request.transactionID)
        if path.object != nil {
            if let staticWeb, let response = try await staticWeb.handle(request, path) { return response }
            return try await ObjectProxy(context: context, identity: identity).handle(request, path)
        }
        if path.container != nil { return try await ContainerProxy(context: context, access: access).handle(request, path) }
        if ["PUT", "POST"].contains(request.method) { try Quotas.checkAccountHeaders(request.headers, identity: identity) }
        return try await AccountProxy(context: context, access: access).handle(request, path)
    }

    /// `?bulk-delete`: the body lists URL-encoded `/container/object` (or `/container`) names, one
    /// per line; each is deleted with the requester's own rights.
    func bulkDelete(_ request: HTTPRequest, _ path: SwiftPath, identity: Identity?) async throws -> HTTPResponse {
        let deleter = BulkDeleter(proxy: ObjectProxy(context: context, identity: identity), account: path.account,
                                  referer: request.header("referer"), txid: request.transactionID)
        guard let format = BulkResponse.format(accept: request.header("accept")) else { throw HTTPError.standard(406) }
        if let type = request.header("content-type"), !type.hasPrefix("text/plain") {
            return deleter.response(targets: [], format: format, prelude: HTTPError.standard(406))
        }
        if request.contentLength == nil && !request.isChunked {
            return deleter.response(targets: [], format: format, prelude: HTTPError.standard(411))
        }
        let body = try await request.body.collect(limit: BulkDeleter.maxDeletes * (context.constraints.maxObjectNameLength + 300))
        var targets: [BulkDeleter.Target] = []
        for line in body.readableBytesView.split(separator: UInt8(ascii: "\n")) {
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { continue }
            guard let name = try? PercentCoding.decodeUTF8(text) else {
                targets.append(.init(name: text, error: HTTPError(412, HTTPStatusText.statusLine(412))))
                continue
            }
            targets.append(.init(name: name, error: nil))
        }
        if targets.count > BulkDeleter.maxDeletes {
            return deleter.response(targets: [], format: format,
                                    prelude: HTTPError(413, "Maximum Bulk Deletes: \(BulkDeleter.maxDeletes) per request"))
        }
        return deleter.response(targets: targets, format: format)
    }

    func unauthorized(_ account: String) -> HTTPError {
        HTTPError.standard(401, headers: [("WWW-Authenticate", "Swift realm=\"\(PercentCoding.encodePath(account))\"")])
    }

    /// `GET /auth/v1.0` with `X-Auth-User`/`X-Auth-Key` (or `X-Storage-User`/`X-Storage-Pass`).
    func authenticate(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else { throw HTTPError(405, "Method not allowed") }
        guard let user = request.header("x-auth-user") ?? request.header("x-storage-user"),
              let key = request.header("x-auth-key") ?? request.header("x-storage-pass") else {
            throw HTTPError(401, "Unauthorized: X-Auth-User and X-Auth-Key are required",
                            headers: [("WWW-Authenticate", "Swift realm=\"unknown\"")])
        }
        guard let (token, expires, u) = await context.auth.authenticate(user: user, key: key) else {
            throw HTTPError(401, "Unauthorized: invalid credentials", headers: [("WWW-Authenticate", "Swift realm=\"unknown\"")])
        }
        let base: String
        let scheme = context.config.server.isTLS ? "https" : "http"
        if let host = request.header("host") {
            base = "\(scheme)://\(host)"
        } else {
            base = context.config.publicURL ?? "\(scheme)://\(context.config.host):\(context.config.port)"
        }
        let url = "\(base)/v1/\(u.storageAccount)"
        var headers = HTTPHeaders()
        headers.add(name: "X-Storage-Url", value: url)
        headers.add(name: "X-Auth-Token", value: token)
        headers.add(name: "X-Storage-Token", value: token)
        headers.add(name: "X-Auth-Token-Expires", value: String(Int(expires - context.clock.now())))
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        let body = "{\"storage\": {\"default\": \"local\", \"local\": \"\(url)\"}}"
        return HTTPResponse(status: 200, headers: headers, body: .bytes(ByteBuffer(string: body)))
    }

    /// `GET /info`: the constraints and features in force.
    func info(_ request: HTTPRequest) throws -> HTTPResponse {
        guard ["GET", "HEAD", "OPTIONS"].contains(request.method) else { throw HTTPError(405, "Method not allowed") }
        var swift = context.constraints.infoDictionary
        swift["version"] = NimbusVersion.string
        let info: [String: Any] = [
            "swift": swift,
            "tempauth": ["account_acls": true],
            "slo": ["max_manifest_segments": ObjectProxy.maxManifestSegments, "max_manifest_size": ObjectProxy.maxManifestSize,
                    "min_segment_size": 1, "yield_frequency": ObjectProxy.sloYieldFrequency],
            "tempurl": ["methods": TempURL.methods.sorted(), "allowed_digests": TempURL.digests.keys.sorted(),
                        "deprecated_digests": ["sha1"], "incoming_remove_headers": ["x-timestamp"], "incoming_allow_headers": [String](),
                        "outgoing_remove_headers": ["x-object-meta-*"], "outgoing_allow_headers": ["x-object-meta-public-*"]],
            "staticweb": [String: Any](),
            "container_quotas": [String: Any](),
            "account_quotas": [String: Any](),
            "symlink": ["symloop_max": ObjectProxy.symloopMax, "static_links": true],
            "versioned_writes": ["allowed_flags": ["x-versions-location", "x-history-location"]],
            "formpost": ["allowed_digests": TempURL.digests.keys.sorted(), "deprecated_digests": ["sha1"]],
            "bulk_upload": ["max_containers_per_extraction": BulkExtractor.maxContainers, "max_failed_extractions": BulkExtractor.maxFailures],
            "bulk_delete": ["max_deletes_per_request": BulkDeleter.maxDeletes, "max_failed_deletes": BulkDeleter.maxFailures],
        ]
        let data = try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys])
        return HTTPResponse(status: 200, headers: ["Content-Type": "application/json; charset=utf-8"],
                            body: .bytes(ByteBuffer(bytes: data)))
    }
}
