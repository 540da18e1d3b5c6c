import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// One keep-alive HTTP/1.1 connection to a backend server, used for one request at a time.
///
/// The request is sent in steps (head, body chunks, end) and the response read in steps, so
/// the proxy can do Swift's `Expect: 100-continue` dance: send the head, wait for `100` or a
/// final status, and only then stream the body.
public final class BackendConnection: Sendable {
    let channel: any Channel
    let responses: ResponseStreamHandler
    /// `host:port` of the peer, the pool key.
    public let key: String

    /// True when this connection came from the idle pool: the server may have closed it
    /// meanwhile, so a failure before any answer is worth one retry on a fresh connection.
    public let reused: Bool

    private let answeredBox = NIOLockedValueBox(false)

    /// True once a response head (a `100 Continue` too) arrived on this request: a failure
    /// after that is the server's, not a stale pooled connection's.
    public var answered: Bool { answeredBox.withLockedValue { $0 } }

    init(channel: any Channel, responses: ResponseStreamHandler, key: String, reused: Bool = false) {
        self.channel = channel
        self.responses = responses
        self.key = key
        self.reused = reused
    }

    /// The same connection, marked as taken from the pool.
    func markedReused() -> BackendConnection {
        BackendConnection(channel: channel, responses: responses, key: key, reused: true)
    }

    /// Sends the request head. Add `Expect: 100-continue` to `headers` to use `awaitContinue()`.
    public func sendHead(method: String, uri: String, headers: HTTPHeaders) async throws {
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: uri, headers: headers)
        try await channel.writeAndFlush(HTTPClientRequestPart.head(head)).get()
    }

    /// Sends a whole request whose body (if any) is in memory: head, body and end in one trip
    /// to the channel's event loop and one flush, where sending them step by step costs three.
    public func sendRequest(method: String, uri: String, headers: HTTPHeaders, body: ByteBuffer? = nil) async throws {
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: uri, headers: headers)
        let channel = self.channel
        try await channel.eventLoop.flatSubmit {
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let body, body.readableBytes > 0 { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
            return channel.writeAndFlush(HTTPClientRequestPart.end(nil))
        }.get()
    }

    /// Sends one body chunk and waits until it is handed to the socket (backpressure).
    public func sendBody(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer))).get()
    }

    /// Starts sending a body chunk; the caller awaits the future (for fan-out to many backends).
    public func sendBodyFuture(_ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer)))
    }

    /// As `sendBodyFuture`, closing the connection (the future fails) when the peer has not
    /// taken the bytes within `timeout` — Swift's per-chunk `node_timeout`: a replica that stopped
    /// reading must not hold up an upload its other replicas can finish. The timer lives on the
    /// connection's event loop (no thread hop of its own) and is cancelled when the write is done.
    public func sendBodyFuture(_ buffer: ByteBuffer, timeout: TimeAmount) -> EventLoopFuture<Void> {
        let channel = self.channel
        let loop = channel.eventLoop
        @Sendable func write() -> EventLoopFuture<Void> {
            let written = channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer)))
            let timer = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            written.whenComplete { _ in timer.cancel() }
            return written
        }
        return loop.inEventLoop ? write() : loop.flatSubmit(write)
    }

    /// Ends the request; `trailers` (only for a chunked body) are the object server's footers.
    public func sendEnd(trailers: HTTPHeaders? = nil) async throws {
        try await channel.writeAndFlush(HTTPClientRequestPart.end(trailers)).get()
    }

    /// Waits for `100 Continue` (returns nil) or an early final response head.
    public func awaitContinue() async throws -> HTTPResponseHead? {
        let head = try await readHeadPart()
        return head.status == .continue ? nil : head
    }

    /// Reads the final response head, skipping informational responses.
    public func readHead() async throws -> HTTPResponseHead {
        while true {
            let head = try await readHeadPart()
            if head.status.code >= 200 || head.status == .switchingProtocols { return head }
        }
    }

    private func readHeadPart() async throws -> HTTPResponseHead {
        switch try await responses.next(channel: channel) {
        case .head(let head):
            answeredBox.withLockedValue { $0 = true }
            return head
        case .body, .end: throw BackendError.protocolError("body before response head")
        }
    }

    /// The next body chunk of the current response, nil at its end.
    public func readBodyPart() async throws -> ByteBuffer? {
        switch try await responses.next(channel: channel) {
        case .body(let buffer): return buffer
        case .end: return nil
        case .head: throw BackendError.protocolError("unexpected response head")
        }
    }

    /// The next body part, giving the backend at most `timeout` to send it (Swift's
    /// `node_timeout` between reads): a stuck server's connection is closed and the read fails.
    public func readBodyPart(timeout: TimeAmount) async throws -> ByteBuffer? {
        let deadline = closeAfter(timeout)
        defer { deadline.cancel() }
        return try await readBodyPart()
    }

    /// Reads the rest of the body into memory, refusing more than `limit` bytes.
    public func readFullBody(limit: Int = 64 << 20) async throws -> ByteBuffer {
        var out = ByteBuffer()
        while var part = try await readBodyPart() {
            guard out.readableBytes + part.readableBytes <= limit else { throw BackendError.protocolError("response too large") }
            out.writeBuffer(&part)
        }
        return out
    }

    /// Closes the connection (never returned to the pool afterwards).
    public func close() {
        channel.close(promise: nil)
    }

    /// Closes the connection if it is still in use after `timeout`: every pending read or write
    /// then fails, which is how a stuck backend is given up on. Cancel the result when done.
    public func closeAfter(_ timeout: TimeAmount) -> Scheduled<Void> {
        let channel = self.channel
        return channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    var isReusable: Bool { channel.isActive && responses.isIdle }
}
