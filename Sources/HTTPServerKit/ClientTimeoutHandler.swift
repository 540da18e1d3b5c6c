import NIOCore
import NIOHTTP1

/// Swift's `client_timeout`: a connection whose client owes us bytes — the next request's
/// head on an idle keep-alive connection, the rest of a head, the next piece of a body — and
/// sends nothing for `timeout` is closed. A head trickled in a byte at a time counts as no
/// progress until it is whole, so slowloris clients cannot hold sockets open.
///
/// The client owes bytes only while the server asked for them (`read()` came down the
/// pipeline: a handler applying backpressure to a slow backend does not count against the
/// client) and only until the request is complete; while the server works on the answer
/// (`.end` in, `.end` out) nothing is owed.
final class ClientTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private var waitingForClient = false
    private var serverTurn = false
    private var since = NIODeadline.now()
    private var check: RepeatedTask?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        since = .now()
        // A coarse tick: precision of a quarter of the timeout (at most a second) is plenty.
        let tick = TimeAmount.nanoseconds(max(10_000_000, min(1_000_000_000, timeout.nanoseconds / 4)))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            let (handler, context) = loopBound.value
            handler.expireIfLate(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        waitingForClient = false
        since = .now()
        if case .end = unwrapInboundIn(data) { serverTurn = true }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if !waitingForClient {
            waitingForClient = true
            since = .now()
        }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            serverTurn = false
            since = .now()
        }
        context.write(data, promise: promise)
    }

    private func expireIfLate(context: ChannelHandlerContext) {
        guard waitingForClient, !serverTurn, NIODeadline.now() - since > timeout else { return }
        check?.cancel()
        check = nil
        context.close(promise: nil)
    }
}
