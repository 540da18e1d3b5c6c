import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Turns a channel's inbound response parts into an async pull interface.
///
/// Parts are queued until the consumer asks for them; when the queue grows past a high-water
/// mark the channel stops reading from the socket (autoRead off) until it drains, so relaying a
/// large GET to a slow client never buffers the whole object.
final class ResponseStreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private struct State {
        var queue: [HTTPClientResponsePart] = []
        var head = 0
        var waiter: CheckedContinuation<HTTPClientResponsePart, any Error>?
        var failure: (any Error)?
        var paused = false
    }

    private let state = NIOLockedValueBox(State())
    private static let highWater = 32
    private static let lowWater = 4

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        let (waiter, pause): (CheckedContinuation<HTTPClientResponsePart, any Error>?, Bool) = state.withLockedValue { s in
            if let w = s.waiter {
                s.waiter = nil
                return (w, false)
            }
            s.queue.append(part)
            if !s.paused && s.queue.count - s.head > Self.highWater {
                s.paused = true
                return (nil, true)
            }
            return (nil, false)
        }
        waiter?.resume(returning: part)
        if pause { context.channel.setOption(.autoRead, value: false).whenComplete { _ in } }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(BackendError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        let waiter = state.withLockedValue { s -> CheckedContinuation<HTTPClientResponsePart, any Error>? in
            if s.failure == nil { s.failure = error }
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume(throwing: error)
    }

    /// The next response part; throws once the connection failed and the queue is empty.
    func next(channel: any Channel) async throws -> HTTPClientResponsePart {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<HTTPClientResponsePart, any Error>) in
            let (result, resume): (Result<HTTPClientResponsePart, any Error>?, Bool) = state.withLockedValue { s in
                if s.head < s.queue.count {
                    let part = s.queue[s.head]
                    s.head += 1
                    if s.head == s.queue.count {
                        s.queue.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                    var resume = false
                    if s.paused && s.queue.count - s.head <= Self.lowWater {
                        s.paused = false
                        resume = true
                    }
                    return (.success(part), resume)
                }
                if let f = s.failure { return (.failure(f), false) }
                s.waiter = cont
                return (nil, false)
            }
            if resume { channel.setOption(.autoRead, value: true).whenComplete { _ in } }
            if let result { cont.resume(with: result) }
        }
    }

    /// True when nothing is buffered and the connection has not failed: safe to pool.
    var isIdle: Bool {
        state.withLockedValue { $0.failure == nil && $0.head == $0.queue.count && $0.waiter == nil }
    }
}

/// Errors from backend connections.
public enum BackendError: Error, CustomStringConvertible {
    case connectionClosed
    case timeout
    case protocolError(String)

    public var description: String {
        switch self {
        case .connectionClosed: return "backend connection closed"
        case .timeout: return "backend timeout"
        case .protocolError(let s): return "backend protocol error: \(s)"
        }
    }
}
