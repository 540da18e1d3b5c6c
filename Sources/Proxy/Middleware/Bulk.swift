import Foundation
import HTTPServerKit
import NimbusCore

/// `bulk`: `PUT ?extract-archive=tar|tar.gz|tar.bz2` unpacks an uploaded archive into objects
/// (`BulkExtractor`), and `POST`/`DELETE ?bulk-delete` deletes the objects and containers its
/// body lists (`BulkDeleter`) — each with the requester's rights.
struct Bulk: Middleware {
    var info: [String: Any] {
        ["bulk_upload": ["max_containers_per_extraction": BulkExtractor.maxContainers, "max_failed_extractions": BulkExtractor.maxFailures],
         "bulk_delete": ["max_deletes_per_request": BulkDeleter.maxDeletes, "max_failed_deletes": BulkDeleter.maxFailures]]
    }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard let path = try? env.path() else { return try await next(request, env) }
        if request.method == "PUT", let type = try? request.queryValue("extract-archive") {
            guard let compression = BulkExtractor.compression(type) else { throw HTTPError.badRequest("Unsupported archive format") }
            let extractor = BulkExtractor(proxy: env.objects, txid: request.transactionID, referer: request.header("referer"))
            guard let format = BulkResponse.format(accept: request.header("accept")) else {
                return BulkResponse.streamed(format: "text/plain", root: "extract") { BulkExtractor.failure(406, nil) }
            }
            return try await extractor.response(request, path, compression: compression, format: format)
        }
        if ["POST", "DELETE"].contains(request.method), (try? request.queryItems())?.contains(where: { $0.0 == "bulk-delete" }) == true {
            return try await bulkDelete(request, path, env)
        }
        return try await next(request, env)
    }

    /// `?bulk-delete`: the body lists URL-encoded `/container/object` (or `/container`) names, one
    /// per line; each is deleted with the requester's own rights.
    func bulkDelete(_ request: HTTPRequest, _ path: SwiftPath, _ env: RequestEnvironment) async throws -> HTTPResponse {
        let deleter = BulkDeleter(proxy: env.objects, account: path.account, referer: request.header("referer"), txid: request.transactionID)
        guard let format = BulkResponse.format(accept: request.header("accept")) else { throw HTTPError.standard(406) }
        if let type = request.header("content-type"), !type.hasPrefix("text/plain") {
            return deleter.response(targets: [], format: format, prelude: HTTPError.standard(406))
        }
        if request.contentLength == nil && !request.isChunked {
            return deleter.response(targets: [], format: format, prelude: HTTPError.standard(411))
        }
        let body = try await request.body.collect(limit: BulkDeleter.maxDeletes * (env.context.constraints.maxObjectNameLength + 300))
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
}
