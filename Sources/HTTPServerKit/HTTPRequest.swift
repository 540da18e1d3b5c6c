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

    init(head: HTTPRequestHead, method: String, path: String, query: String, transactionID: String, body: RequestBody,
         remoteAddress: String) {
        self.head = head
        self.method = method
        self.path = path
        self.query = query
        self.transactionID = transactionID
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// A request made in memory: a middleware's sub-request, or a test's.
    /// - Parameter uri: the raw path with its query string, as on a request line.
    public init(method: String, uri: String, headers: HTTPHeaders = [:], body: RequestBody = RequestBody(),
                transactionID: String = TransactionID.make(), remoteAddress: String = "127.0.0.1") {
        let (path, query) = HTTPServer.splitURI(uri)
        self.init(head: HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: uri, headers: headers),
                  method: method, path: path, query: query, transactionID: transactionID, body: body, remoteAddress: remoteAddress)
    }

    /// This request with another method, target, headers or body (the transaction id stays).
    public func with(method: String? = nil, uri: String? = nil, headers: HTTPHeaders? = nil, body: RequestBody? = nil) -> HTTPRequest {
        let uri = uri ?? head.uri
        let method = method ?? self.method
        let (path, query) = HTTPServer.splitURI(uri)
        var newHead = head
        newHead.method = HTTPMethod(rawValue: method)
        newHead.uri = uri
        if let headers { newHead.headers = headers }
        return HTTPRequest(head: newHead, method: method, path: path, query: query, transactionID: transactionID,
                           body: body ?? self.body, remoteAddress: remoteAddress)
    }

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
