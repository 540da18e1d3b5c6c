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
    func readDLO(_ request: HTTPRequest, _ path: ObjectPath, manifest: String, manifestHead: HTTPResponseHead) async throws -> HTTPResponse {
        let dlo = try await DLOManifest.load(manifest: manifest, account: path.account, proxy: self,
                                                    referer: request.header("referer"), txid: request.transactionID)
        let headers = HeaderFilter.clientHeaders(manifestHead.headers)
        return try await LargeObjectResponse(proxy: self, request: request, headers: headers, total: try dlo.totalLength(), etag: dlo.etag,
                                             multipleRanges: false, evaluateConditionals: true,
                                             plan: { ListPlan(dlo.pieces(range: $0)) }).respond()
    }
}
