import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

extension ObjectProxy {
    /// `?multipart-manifest=get` asks for the manifest object itself.
    static func wantsManifest(_ request: HTTPRequest) -> Bool {
        (try? request.queryValue("multipart-manifest")) == "get"
    }

    /// GET/HEAD of a DLO manifest: conditionals against the DLO ETag, one range (206) or the
    /// whole concatenation (several ranges also get the whole body, as Swift answers).
    func readDLO(_ request: HTTPRequest, _ path: SwiftPath, manifest: String, manifestHead: HTTPResponseHead) async throws -> HTTPResponse {
        let dlo = try await DynamicLargeObject.load(manifest: manifest, account: path.account, proxy: self,
                                                    referer: request.header("referer"), txid: request.transactionID)
        var headers = HeaderFilter.clientHeaders(manifestHead.headers)
        for name in ["content-length", "content-range", "etag"] { headers.remove(name: name) }
        headers.replaceOrAdd(name: "ETag", value: dlo.etag)
        headers.replaceOrAdd(name: "Accept-Ranges", value: "bytes")
        let total = dlo.totalLength
        let bare = dlo.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        func matches(_ h: String) -> Bool {
            h.split(separator: ",").contains { t in
                let v = t.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return v == "*" || v == bare
            }
        }
        if let im = request.header("if-match"), !matches(im) {
            headers.replaceOrAdd(name: "Content-Length", value: "0")
            return HTTPResponse(status: 412, headers: headers)
        }
        if let inm = request.header("if-none-match"), matches(inm) {
            return HTTPResponse(status: 304, headers: headers)
        }
        var range: ClosedRange<Int64>?
        var status = 200
        if let ranges = RangeSpec.resolve(request.header("range"), length: total) {
            if ranges.isEmpty {
                headers.replaceOrAdd(name: "Content-Range", value: "bytes */\(total)")
                headers.replaceOrAdd(name: "Content-Length", value: "0")
                return HTTPResponse(status: 416, headers: headers, body: .empty)
            }
            if ranges.count == 1 {
                range = ranges[0]
                status = 206
                headers.replaceOrAdd(name: "Content-Range", value: "bytes \(ranges[0].lowerBound)-\(ranges[0].upperBound)/\(total)")
            }
        }
        headers.replaceOrAdd(name: "Content-Length", value: String(range.map { Int64($0.count) } ?? total))
        if request.method == "HEAD" { return HTTPResponse(status: status, headers: headers) }
        let reader = dlo.reader(range: range, txid: request.transactionID)
        return HTTPResponse(status: status, headers: headers, body: .stream { writer in
            do {
                while let part = try await reader.next() { try await writer.write(part) }
            } catch {
                reader.cancel()
                throw error
            }
        })
    }
}
