import NIOCore
import NIOHTTP1
import NimbusCore

/// One HTTP request as a handler sees it: the head, already split into path and query, and a
/// streaming body that is read with backpressure.
public struct HTTPRequest {
    public let head: HTTPRequestHead
    /// The request method as sent (`GET`, `PUT`, `COPY`, …).
    public let method: String
    /// The raw (still percent-encoded) path, without the query string.
    public let path: String
    /// The raw query string, without `?`.
    public let query: String
    /// The transaction id of this request (from `X-Trans-Id` or freshly made).
    public let transactionID: String
    /// The body; reading it sends `100 Continue` first when the client asked for it.
    public let body: RequestBody
    /// The peer address, for logs.
    public let remoteAddress: String

    public var headers: HTTPHeaders { head.headers }

    /// First value of a header (case-insensitive).
    public func header(_ name: String) -> String? { head.headers.first(name: name) }

    /// Decoded query parameters, in order.
    public func queryItems() throws(HTTPError) -> [(String, String)] { try PercentCoding.parseQuery(query) }

    /// The first value of a query parameter, decoded.
    public func queryValue(_ name: String) throws(HTTPError) -> String? {
        try queryItems().first { $0.0 == name }?.1
    }

    /// The declared body length, nil for chunked requests.
    public var contentLength: Int64? {
        guard let v = head.headers.first(name: "content-length") else { return nil }
        return Int64(v)
    }

    /// True when the request carries `Transfer-Encoding: chunked`.
    public var isChunked: Bool {
        head.headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() == "chunked" }
    }
}
