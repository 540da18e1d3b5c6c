#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A complete backend response with its body in memory.
public struct BackendResponse: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let body: ByteBuffer

    public init(status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Connects to backend servers and keeps idle keep-alive connections per `host:port` for reuse.
public final class BackendClient: Sendable {
    private let group: any EventLoopGroup
    private let idle = NIOLockedValueBox([String: [BackendConnection]]())
    private let maxIdlePerHost: Int
    private let tls: TLSContextCache
    /// Connect timeout.
    public let connectTimeout: TimeAmount

    /// - Parameter tls: how HTTPS servers are checked (connections with `secure: true`).
    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                connectTimeout: TimeAmount = .seconds(3), maxIdlePerHost: Int = 64, tls: ClientTLS = ClientTLS()) {
        self.group = group
        self.connectTimeout = connectTimeout
        self.maxIdlePerHost = maxIdlePerHost
        self.tls = TLSContextCache(tls)
    }

    /// A pooled connection to `host:port`, or a new one.
    /// - Parameters:
    ///   - fresh: skip the pool (the retry after a pooled connection failed).
    ///   - secure: speak TLS (HTTPS), checking the server as the client's `ClientTLS` says.
    public func connect(host: String, port: Int, fresh: Bool = false, secure: Bool = false) async throws -> BackendConnection {
        let key = "\(secure ? "https" : "http")://\(host):\(port)"
        while !fresh, let conn = idle.withLockedValue({ pool -> BackendConnection? in pool[key]?.popLast() }) {
            if conn.isReusable { return conn.markedReused() }
            conn.close()
        }
        let handler = ResponseStreamHandler()
        let sslContext = secure ? try tls.get() : nil
        // SNI and the name check take a host name; an address literal is checked against the
        // certificate's IP entries by the handler itself.
        let serverName = host.isIPAddressLiteral ? nil : host
        // Made before the channel: a handshake that fails at once tears the pipeline down
        // before `connect` returns, and its reason must still reach the caller.
        let handshake = secure ? group.any().makePromise(of: Void.self) : nil
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                // A large object's body arrives in up to 1 MiB reads (NIO's default stops at 64 KiB).
                .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Built by hand because the stock client pipeline drops `100 Continue`.
                        let decoder = HTTPResponseDecoder(leftOverBytesStrategy: .fireError, informationalResponseStrategy: .forward)
                        if let sslContext {
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                            if let handshake { try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(promise: handshake)) }
                        }
                        try channel.pipeline.syncOperations.addHandlers([
                            // The validator refuses a header name or value with CR, LF or NUL: nothing
                            // a client wrote (a grant id, say) can split a backend request.
                            HTTPRequestEncoder(), NIOHTTPRequestHeadersValidator(), ByteToMessageHandler(decoder), handler,
                        ])
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            handshake?.fail(error)  // never left pending
            throw error
        }
        if let handshake {
            // A refused certificate then fails the connect, with its reason, instead of the
            // first write failing on a channel the handshake already closed.
            do {
                try await handshake.futureResult.get()
            } catch {
                channel.close(promise: nil)
                throw error
            }
        }
        return BackendConnection(channel: channel, responses: handler, key: key)
    }

    /// Returns a connection whose response was read to the end; it is kept for reuse if healthy.
    public func release(_ conn: BackendConnection) {
        guard conn.isReusable else {
            conn.close()
            return
        }
        let kept = idle.withLockedValue { pool -> Bool in
            var list = pool[conn.key] ?? []
            guard list.count < maxIdlePerHost else { return false }
            list.append(conn)
            pool[conn.key] = list
            return true
        }
        if !kept { conn.close() }
    }

    /// Runs `exchange` on a connection to `host:port`, a pooled one when there is. A pooled
    /// connection that fails before any answer had been closed by the server while idle — that
    /// says nothing about the server — so `exchange` then runs once more on a fresh connection.
    /// The one place a stale connection is retried.
    public func withConnection<T>(host: String, port: Int, secure: Bool = false,
                                  _ exchange: (BackendConnection) async throws -> T) async throws -> T {
        let conn = try await connect(host: host, port: port, secure: secure)
        do {
            return try await exchange(conn)
        } catch where conn.reused && !conn.answered {
            conn.close()
            return try await exchange(try await connect(host: host, port: port, fresh: true, secure: secure))
        }
    }

    /// One whole request with an in-memory body; the response body is read fully.
    public func request(host: String, port: Int, secure: Bool = false, method: String, uri: String, headers: HTTPHeaders = HTTPHeaders(),
                        body: ByteBuffer? = nil, timeout: TimeAmount = .seconds(10)) async throws -> BackendResponse {
        try await withConnection(host: host, port: port, secure: secure) { conn in
            try await exchange(conn, host: host, port: port, method: method, uri: uri, headers: headers, body: body, timeout: timeout)
        }
    }

    private func exchange(_ conn: BackendConnection, host: String, port: Int, method: String, uri: String, headers: HTTPHeaders,
                          body: ByteBuffer?, timeout: TimeAmount) async throws -> BackendResponse {
        let deadline = conn.closeAfter(timeout)
        defer { deadline.cancel() }
        do {
            var h = headers
            h.replaceOrAdd(name: "Content-Length", value: String(body?.readableBytes ?? 0))
            h.replaceOrAdd(name: "Host", value: "\(host):\(port)")
            do {
                try await conn.sendRequest(method: method, uri: uri, headers: h, body: body)
            } catch {
                // A server may answer (413, 400…) and close before taking the whole body; its
                // answer is then already queued and is the one worth returning.
                guard let head = try? await conn.readHead() else {
                    conn.close()
                    throw error
                }
                let data = (try? await conn.readFullBody()) ?? ByteBuffer()
                conn.close()
                return BackendResponse(status: Int(head.status.code), headers: head.headers, body: data)
            }
            let head = try await conn.readHead()
            let data = try await conn.readFullBody()
            if head.isKeepAlive { release(conn) } else { conn.close() }
            return BackendResponse(status: Int(head.status.code), headers: head.headers, body: data)
        } catch {
            conn.close()
            throw error
        }
    }

    /// Closes every idle connection.
    public func shutdown() {
        let all = idle.withLockedValue { pool -> [BackendConnection] in
            let a = pool.values.flatMap { $0 }
            pool.removeAll()
            return a
        }
        for c in all { c.close() }
    }
}


extension String {
    /// True for an IPv4 or IPv6 address literal (no name to resolve or to check a certificate by).
    var isIPAddressLiteral: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
