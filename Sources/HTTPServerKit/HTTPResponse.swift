import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NimbusCore

/// What a handler answers: status, headers and a body that is either in memory or streamed.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Body
    /// True when a streamed body keeps reading the request body while it is sent (bulk
    /// extraction answers as it unpacks the upload): the server then leaves the request
    /// body alone and closes the connection afterwards.
    public var streamsRequestBody = false

    /// A response body.
    public enum Body: Sendable {
        case empty
        case bytes(ByteBuffer)
        /// Streamed by the closure; `Content-Length` must be in the headers unless chunked is wanted.
        case stream(@Sendable (BodyWriter) async throws -> Void)
    }

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// OpenStack Swift's standard error response for a status (`<html><h1>Not Found</h1>…`).
    public static func error(_ status: Int, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var h = headers
        h.replaceOrAdd(name: "Content-Type", value: "text/html; charset=UTF-8")
        return HTTPResponse(status: status, headers: h, body: .bytes(ByteBuffer(string: HTTPStatusText.swiftBody(status))))
    }

    /// OpenStack Swift's way of showing an error: its reason as a short HTML-typed text body
    /// (empty for a malformed request), with the error's headers. The object store's servers
    /// answer errors with it.
    public static func swiftError(_ error: HTTPError) -> HTTPResponse {
        var h = HTTPHeaders()
        for (k, v) in error.headers { h.add(name: k, value: v) }
        if !error.reason.isEmpty { h.replaceOrAdd(name: "Content-Type", value: "text/html; charset=UTF-8") }
        return HTTPResponse(status: error.status, headers: h, body: .bytes(ByteBuffer(string: error.reason)))
    }

    /// A response with a short text body.
    public static func text(_ status: Int, _ text: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var h = headers
        if !h.contains(name: "content-type") { h.replaceOrAdd(name: "Content-Type", value: "text/plain; charset=utf-8") }
        return HTTPResponse(status: status, headers: h, body: .bytes(ByteBuffer(string: text)))
    }
}

/// Writes a streamed response body, suspending while the client is slow.
public struct BodyWriter: Sendable {
    private let sink: @Sendable (ByteBuffer) async throws -> Void

    /// - Parameter head: the response head, sent with the first chunk (one write, one trip to
    ///   the event loop, instead of two) unless the server already sent it.
    init(outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, counter: ByteCounter, head: PendingHead) {
        sink = { buffer in
            counter.add(buffer.readableBytes)
            if let first = head.take() {
                try await outbound.write(contentsOf: [first, .body(.byteBuffer(buffer))])
            } else {
                try await outbound.write(.body(.byteBuffer(buffer)))
            }
        }
    }

    /// A writer handing each chunk to `sink`: a stage that counts what another one sends, or a
    /// test that collects a streamed body.
    public init(sink: @escaping @Sendable (ByteBuffer) async throws -> Void) {
        self.sink = sink
    }

    /// Sends one chunk.
    public func write(_ buffer: ByteBuffer) async throws {
        try await sink(buffer)
    }
}

/// A response head not written yet: the first body chunk takes it along, or the end does.
final class PendingHead: Sendable {
    private let part: NIOLockedValueBox<HTTPServerResponsePart?>
    init(_ head: HTTPServerResponsePart) { part = NIOLockedValueBox(head) }
    /// The head, once; nil after it was taken.
    func take() -> HTTPServerResponsePart? { part.withLockedValue { p in defer { p = nil }; return p } }
}

/// Counts bytes sent for the access log. Only touched from the connection's own task.
final class ByteCounter: Sendable {
    private let storage = LockedInt()
    func add(_ n: Int) { storage.add(n) }
    var value: Int { storage.value }
}
