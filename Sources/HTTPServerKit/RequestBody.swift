import NIOCore
import NIOHTTP1
import NimbusCore

/// The streaming body of one request on a keep-alive connection.
///
/// Reads come straight from the connection's inbound stream, so a slow consumer stops the
/// socket being read (backpressure). The first read answers `Expect: 100-continue`: a handler
/// that rejects a request (507, 413, 401…) before reading the body never invites the client to
/// send it.
///
/// A body can also come from memory or another producer (`init(bytes:)`, `init(chunks:)`):
/// middleware makes sub-requests with such bodies, and tests drive handlers without sockets.
public final class RequestBody: AsyncSequence {
    public typealias Element = ByteBuffer

    private var source: ConnectionReader?
    private let expectsContinue: Bool
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>?
    /// The producer of a body that does not come from the connection.
    private let producer: (() async throws -> ByteBuffer?)?
    private(set) var continueSent = false
    /// True once `.end` was seen: the connection can carry the next request.
    public private(set) var isComplete: Bool
    /// Bytes read so far.
    public private(set) var bytesRead: Int64 = 0
    /// The trailer fields of a chunked body, once it has ended (an object server's footers:
    /// metadata the proxy learned only from the bytes, such as a checksum).
    public private(set) var trailers: HTTPHeaders?

    init(source: ConnectionReader, expectsContinue: Bool, hasBody: Bool,
         outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) {
        self.source = source
        self.expectsContinue = expectsContinue
        self.outbound = outbound
        self.producer = nil
        self.isComplete = !hasBody && source.pendingEnd == false
    }

    /// A body whose chunks come from `chunks` until it returns nil.
    public init(chunks: @escaping () async throws -> ByteBuffer?) {
        self.source = nil
        self.expectsContinue = false
        self.outbound = nil
        self.producer = chunks
        self.isComplete = false
    }

    /// A body held in memory (empty when `bytes` is).
    public convenience init(bytes: ByteBuffer = ByteBuffer()) {
        var pending: ByteBuffer? = bytes.readableBytes > 0 ? bytes : nil
        self.init(chunks: {
            defer { pending = nil }
            return pending
        })
    }

    /// The next chunk of the body, or nil at its end. Throws if the client went away mid-body.
    public func next() async throws -> ByteBuffer? {
        if isComplete { return nil }
        if let producer {
            guard let chunk = try await producer() else {
                isComplete = true
                return nil
            }
            bytesRead += Int64(chunk.readableBytes)
            return chunk
        }
        guard let source, let outbound else { return nil }
        if expectsContinue && !continueSent {
            continueSent = true
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .continue)))
        }
        while true {
            let next: HTTPServerRequestPart?
            do {
                next = try await source.next()
            } catch {
                throw HTTPError(499, "Client disconnected before the body ended: \(error)")
            }
            guard let part = next else {
                throw HTTPError(499, "Client disconnected before the body ended")
            }
            switch part {
            case .body(let buffer):
                bytesRead += Int64(buffer.readableBytes)
                return buffer
            case .end(let fields):
                trailers = fields
                isComplete = true
                source.pendingEnd = false
                return nil
            case .head:
                throw HTTPError(400, "Unexpected request head inside a body")
            }
        }
    }

    /// Reads the whole body into one buffer, refusing more than `limit` bytes.
    public func collect(limit: Int) async throws -> ByteBuffer {
        var out = ByteBuffer()
        while let chunk = try await next() {
            guard out.readableBytes + chunk.readableBytes <= limit else { throw HTTPError(413, "Request body too large") }
            var c = chunk
            out.writeBuffer(&c)
        }
        return out
    }

    /// Throws away the rest of the body (so the connection can be reused).
    func drain() async throws {
        while try await next() != nil {}
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let body: RequestBody
        public mutating func next() async throws -> ByteBuffer? { try await body.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}

/// Owns the connection's inbound iterator across requests.
final class ConnectionReader {
    var iterator: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator
    /// The current request's `.end` has not been read yet.
    var pendingEnd = false

    init(_ iterator: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async throws -> HTTPServerRequestPart? { try await iterator.next() }
}
