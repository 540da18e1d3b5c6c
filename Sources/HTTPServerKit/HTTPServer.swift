import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NimbusCore

/// Answers requests; every daemon (proxy, storage node) is one of these behind an `HTTPServer`.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async throws -> HTTPResponse

    /// How this service shows an error, in its own protocol's shape (Swift's text bodies, EC2's
    /// XML documents, …): every `HTTPError` its handler throws and the server's own refusals
    /// (too many connections, a malformed request, a body over the limit, an internal error).
    func errorResponse(_ error: HTTPError) -> HTTPResponse
}

/// A small HTTP/1.1 server on SwiftNIO: keep-alive, streaming bodies both ways with
/// backpressure, `100 Continue` decided by the handler (by reading the body or not), a
/// transaction id on every response and one access-log line per request.
public final class HTTPServer: Sendable {
    private let channel: NIOAsyncChannel<Connection, Never>
    private let handler: any HTTPHandler
    private let logger: Logger
    private let connections: ConnectionRegistry
    private let options: HTTPServerOptions
    /// The port actually bound (useful when asked for port 0).
    public let port: Int
    /// The host bound.
    public let host: String

    private init(channel: NIOAsyncChannel<Connection, Never>,
                 handler: any HTTPHandler, logger: Logger, host: String, port: Int, options: HTTPServerOptions,
                 connections: ConnectionRegistry) {
        self.channel = channel
        self.connections = connections
        self.options = options
        self.handler = handler
        self.logger = logger
        self.host = host
        self.port = port
    }

    /// Binds a listening socket; call `run()` to serve.
    public static func bind(host: String, port: Int, handler: any HTTPHandler, logger: Logger, options: HTTPServerOptions = .init(),
                            group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> HTTPServer {
        let clientTimeout = TimeAmount.nanoseconds(Int64(min(max(options.clientTimeout, 0.01), 86_400) * 1e9))
        let connections = ConnectionRegistry()
        let tls = try options.tlsContext()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // TCP_NODELAY is a TCP-level option (`.socketOption` would set SO_DEBUG, root only).
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Reads grow to 256 KiB on a busy connection (NIO's default stops at 64 KiB): a large
            // upload moves in a quarter as many pieces, and a connection's inbound buffer (a few
            // reads) stays a few MiB at most.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 << 10))
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    connections.track(channel)
                    // NIO's protocol error handler would answer 400 on its own, possibly while
                    // our handler is answering the same request; `serve` answers parse errors.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                    let start = RequestStart()
                    try channel.pipeline.syncOperations.addHandler(RequestHeadNormalizer(requestStart: start), position: .first)
                    try channel.pipeline.syncOperations.addHandler(ClientTimeoutHandler(timeout: clientTimeout))
                    // First of all: everything after it sees plain HTTP.
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first) }
                    // Deinit-based teardown on purpose: a connection accepted while the server
                    // closes can be dropped by NIO before `run` ever sees it; it must then close
                    // itself instead of trapping on its unfinished writer. Every connection
                    // `run` does see is served and closed through `executeThenClose`.
                    return Connection(channel: try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(synchronouslyWrapping: channel),
                                      requestStart: start)
                }
            }
        let bound = server.channel.localAddress?.port ?? port
        return HTTPServer(channel: server, handler: handler, logger: logger, host: host, port: bound, options: options,
                          connections: connections)
    }

    /// Serves connections until `close()` is called or the surrounding task is cancelled (which
    /// closes the server the same way), and returns once every accepted connection has been
    /// served or closed.
    public func run() async throws {
        // The accept loop is not a child of the caller's task: cancelling it would end the
        // stream of accepted connections with some still in its buffer, dropped without being
        // closed through their async channels (NIO traps on such an unfinished writer).
        let loop = Task { try await self.acceptAndServe() }
        try await withTaskCancellationHandler {
            try await loop.value
        } onCancel: {
            self.close()
        }
    }

    private func acceptAndServe() async throws {
        try await channel.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in inbound {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
    }

    /// Stops accepting connections, closes idle keep-alive connections and lets requests in
    /// flight finish (their connections close after the response); connections still open
    /// after `drainTimeout` are closed.
    public func close() {
        channel.channel.close(promise: nil)
        connections.shutdown()
        let drain = TimeAmount.nanoseconds(Int64(min(max(options.drainTimeout, 0), 86_400) * 1e9))
        let connections = self.connections
        channel.channel.eventLoop.scheduleTask(in: drain) { connections.closeAll() }
    }

    /// An accepted connection and the marker of where its next request starts.
    struct Connection: Sendable {
        let channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
        let requestStart: RequestStart
    }

    private func serve(_ accepted: Connection) async {
        let connection = accepted.channel
        let remote = connection.channel.remoteAddress?.ipAddress ?? "-"
        let id = ObjectIdentifier(connection.channel)
        guard connections.register(id, connection.channel, limit: options.maxConnections) else {
            // Shutting down or full: close through the async channel so its writer is finished
            // properly; a full server first tells the client why.
            let full = !connections.isShuttingDown
            if full { logger.warning("\(remote) refused: \(options.maxConnections) connections open") }
            try? await connection.executeThenClose { inbound, outbound in
                guard full else { return }
                // HTTP answers a request: wait for its head (the client timeout bounds the wait).
                for try await part in inbound {
                    guard case .head = part else { continue }
                    try await Self.refuse(outbound, self.handler.errorResponse(HTTPError(503, "Too many connections; try again later.\n")))
                    return
                }
            }
            return
        }
        defer { connections.remove(id) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let reader = ConnectionReader(inbound.makeAsyncIterator())
                while true {
                    let part: HTTPServerRequestPart?
                    do {
                        part = try await reader.next()
                    } catch let error as HTTPParserError {
                        // A malformed request head: answer 400 and close, as Swift's servers do.
                        self.logger.info("\(remote) malformed request: \(error)")
                        try? await Self.refuse(outbound, self.handler.errorResponse(HTTPError(400, "")))
                        break
                    }
                    guard let part else { break }
                    guard case .head(let head) = part else { continue }
                    if let refusal = self.tooLarge(head) {
                        // Refused before a byte of the body is read; the body's framing is then
                        // unknown to us, so the connection closes.
                        self.logger.info("\(remote) \"\(head.method.rawValue) \(head.uri)\" 413: \(refusal)")
                        try? await Self.refuse(outbound, self.handler.errorResponse(HTTPError(413, refusal + "\n")))
                        break
                    }
                    connections.setBusy(id, true)
                    let keepAlive = try await self.exchange(head: head, reader: reader, outbound: outbound, remote: remote,
                                                            requestStart: accepted.requestStart)
                    if !keepAlive || !connections.setBusy(id, false) { break }
                }
            }
        } catch {
            logger.debug("connection from \(remote) ended: \(error)")
        }
    }

    /// Runs one request/response exchange; returns whether the connection may be reused.
    private func exchange(head: HTTPRequestHead, reader: ConnectionReader,
                          outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, remote: String,
                          requestStart: RequestStart) async throws -> Bool {
        let started = ContinuousClock.now
        let txid = head.headers.first(name: "x-trans-id") ?? TransactionID.make()
        let uri = head.uri
        let (path, query) = Self.splitURI(uri)
        let expects100 = head.headers.first(name: "expect")?.lowercased() == "100-continue"
        let hasBody = head.headers.contains(name: "transfer-encoding")
            || (Int64(head.headers.first(name: "content-length") ?? "0") ?? 0) > 0
        reader.pendingEnd = true
        let body = RequestBody(source: reader, expectsContinue: expects100, hasBody: hasBody, outbound: outbound)
        let request = HTTPRequest(head: head, method: head.method.rawValue, path: path, query: query,
                                  transactionID: txid, body: body, remoteAddress: remote)
        var response: HTTPResponse
        var mustClose = false
        do {
            if let method = head.headers.first(name: "x-nimbus-unknown-method") {
                // See RequestHeadNormalizer: a method nothing here implements.
                throw HTTPError(405, "Method \(method) is not allowed.")
            }
            if let coding = head.headers.first(name: "x-nimbus-unsupported-transfer-encoding") {
                // The body's framing is unknown: answer and close rather than guess where it ends.
                mustClose = true
                throw HTTPError(501, "Transfer-Encoding \(coding) is not implemented.")
            }
            response = try await handler.handle(request)
        } catch let error as HTTPError where error.status == 499 {
            // The client went away mid-body: there is nobody to answer; just close.
            logger.info("\(remote) \"\(head.method.rawValue) \(uri)\" 499 0 \(body.bytesRead) client disconnected",
                        metadata: ["txid": "\(txid)"])
            throw error
        } catch let error as HTTPError {
            logger.info("\(head.method.rawValue) \(uri) refused: \(error.status) \(error.reason)", metadata: ["txid": "\(txid)"])
            response = handler.errorResponse(error)
        } catch {
            logger.error("unhandled error: \(error)", metadata: ["txid": "\(txid)"])
            response = handler.errorResponse(HTTPError(500, HTTPStatusText.swiftBody(500)))
        }

        var keepAlive = head.isKeepAlive && !connections.isShuttingDown && !response.streamsRequestBody && !mustClose
        if !body.isComplete && !response.streamsRequestBody {
            let declared = Int64(head.headers.first(name: "content-length") ?? "") ?? Int64.max
            if !hasBody || ((!expects100 || body.continueSent) && declared - body.bytesRead <= Self.drainLimit) {
                // Small leftovers are read and dropped so the connection stays usable and the
                // client is not cut off while still sending.
                try await body.drain()
            } else {
                // The client was not invited to send the body, or the handler stopped reading it:
                // close rather than read (possibly gigabytes) just to throw them away.
                keepAlive = false
            }
        }

        // The request is read whole: what arrives next (after our answer, for a client that
        // does not pipeline) begins the next request's head.
        if keepAlive { requestStart.arm() }

        let counter = ByteCounter()
        var headers = response.headers
        headers.replaceOrAdd(name: "X-Trans-Id", value: txid)
        headers.replaceOrAdd(name: "X-Openstack-Request-Id", value: txid)
        if !headers.contains(name: "content-type") { headers.add(name: "Content-Type", value: "text/html; charset=UTF-8") }
        if !headers.contains(name: "date") { headers.add(name: "Date", value: HTTPDate.format(Int64(Date().timeIntervalSince1970))) }
        let bodyless = response.status == 204 || response.status == 304 || response.status < 200
        switch response.body {
        case .bytes(let buffer):
            if head.method != .HEAD || !headers.contains(name: "content-length") {
                headers.replaceOrAdd(name: "Content-Length", value: String(buffer.readableBytes))
            }
        case .empty:
            if !headers.contains(name: "content-length") && !bodyless { headers.add(name: "Content-Length", value: "0") }
        case .stream:
            break
        }
        if bodyless { headers.remove(name: "content-length") }
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if head.headers.first(name: "connection")?.lowercased() == "keep-alive" {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }

        var status = HTTPResponseStatus(statusCode: response.status)
        if status.reasonPhrase.isEmpty || status.reasonPhrase == "" {
            status = HTTPResponseStatus(statusCode: response.status, reasonPhrase: HTTPStatusText.phrase(response.status))
        }
        // Head, body and end go out in as few writes as possible: each write is a trip from
        // this task to the channel's event loop and back.
        let responseHead = HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: status, headers: headers))
        if head.method == .HEAD || bodyless {
            try await outbound.write(contentsOf: [responseHead, .end(nil)])
        } else {
            switch response.body {
            case .bytes(let buffer):
                counter.add(buffer.readableBytes)
                try await outbound.write(contentsOf: [responseHead, .body(.byteBuffer(buffer)), .end(nil)])
            case .empty:
                try await outbound.write(contentsOf: [responseHead, .end(nil)])
            case .stream(let produce):
                // The head waits for the first chunk, except while the request body is still being
                // read (bulk extraction): that client must see the answer begin at once.
                let pending = PendingHead(responseHead)
                if response.streamsRequestBody, let first = pending.take() { try await outbound.write(first) }
                do {
                    try await produce(BodyWriter(outbound: outbound, counter: counter, head: pending))
                } catch {
                    // Headers may be gone: the only honest signal left is to cut the connection.
                    logger.warning("response body aborted: \(error)", metadata: ["txid": "\(txid)"])
                    throw HTTPError(499, "aborted")
                }
                if let first = pending.take() {
                    try await outbound.write(contentsOf: [first, .end(nil)])
                } else {
                    try await outbound.write(.end(nil))
                }
            }
        }
        let ms = (ContinuousClock.now - started).milliseconds
        if options.accessLog {
            logger.info("\(remote) \"\(head.method.rawValue) \(uri)\" \(response.status) \(counter.value) \(body.bytesRead) \(ms)ms",
                        metadata: ["txid": "\(txid)"])
        }
        return keepAlive
    }

    /// A one-line reason when the declared body cannot be accepted: a Content-Length that is
    /// not a number we can hold, or above `maxRequestBody`.
    private func tooLarge(_ head: HTTPRequestHead) -> String? {
        guard let text = head.headers.first(name: "content-length") else { return nil }
        guard let length = Int64(ContentTypeParams.trimmed(text[...])), length >= 0 else {
            return "Content-Length \(text) is not a size this server accepts."
        }
        if let max = options.maxRequestBody, length > max { return "Your request is too large." }
        return nil
    }

    /// Answers with `status` and a short text body, then ends (the caller closes).
    /// Answers a request the server refuses before its handler runs, then closes: the service's
    /// rendering of the error (an in-memory body).
    private static func refuse(_ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, _ response: HTTPResponse) async throws {
        var body = ByteBuffer()
        if case .bytes(let b) = response.body { body = b }
        var headers = response.headers
        headers.replaceOrAdd(name: "Connection", value: "close")
        headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        if !headers.contains(name: "x-trans-id") { headers.add(name: "X-Trans-Id", value: TransactionID.make()) }
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status),
                                                        headers: headers)))
        if body.readableBytes > 0 { try await outbound.write(.body(.byteBuffer(body))) }
        try await outbound.write(.end(nil))
    }

    /// Unread request bodies up to this size are drained rather than closing the connection.
    static let drainLimit: Int64 = 1 << 20

    static func splitURI(_ uri: String) -> (String, String) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<q]), String(uri[uri.index(after: q)...]))
    }
}

/// Transaction ids in OpenStack Swift's shape: `tx` + 21 hex digits + `-` + hex time.
public enum TransactionID {
    public static func make() -> String {
        let r1 = UInt64.random(in: 0...UInt64.max)
        let r2 = UInt64.random(in: 0...UInt64.max)
        let hex = String(r1, radix: 16) + String(r2, radix: 16)
        let padded = String(repeating: "0", count: max(0, 21 - hex.count)) + hex
        let t = String(Int(Date().timeIntervalSince1970), radix: 16)
        return "tx" + padded.prefix(21) + "-" + String(repeating: "0", count: max(0, 10 - t.count)) + t
    }
}

extension Duration {
    var milliseconds: Double {
        let (s, atto) = components
        return Double(s) * 1000 + Double(atto) / 1e15
    }
}
