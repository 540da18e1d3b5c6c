import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Rewrites the few request heads SwiftNIO's strict parser (llhttp) rejects but OpenStack
/// Swift answers, so that they reach our handler instead of a bare 400:
///
/// - raw bytes ≥ 0x80 in the request target (clients that send UTF-8 names unquoted) are
///   percent-encoded — the same name once decoded;
/// - a method llhttp does not know (`LICK`) becomes `GET` with the original in
///   `X-Nimbus-Unknown-Method`, which the server answers with 405 as Swift does;
/// - a `Transfer-Encoding` other than plain `chunked` is renamed to
///   `X-Nimbus-Unsupported-Transfer-Encoding`, answered with 501 and a closed connection.
///
/// It looks only at the head of each request: the server marks where the next request starts
/// (`RequestStart`) once the previous one was read whole. Bytes of a pipelined request that
/// arrive before that pass unchanged (to the strict parser, as before).
final class RequestHeadNormalizer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let requestStart: RequestStart
    private var pending: ByteBuffer?
    /// Bytes of `pending` already searched for the blank line (a head sent a byte at a time
    /// is scanned once, not once per read).
    private var scanned = 0
    /// Heads longer than this are passed on unchanged (the parser decides).
    static let maxHead = 64 * 1024

    init(requestStart: RequestStart) {
        self.requestStart = requestStart
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        var all: ByteBuffer
        if var held = pending {
            held.writeBuffer(&bytes)
            all = held
        } else {
            guard requestStart.take() else {
                context.fireChannelRead(data)
                return
            }
            all = bytes
        }
        let view = all.readableBytesView
        guard let end = Self.headEnd(view, from: max(0, scanned - 3)), let head = all.readSlice(length: end - view.startIndex) else {
            scanned = view.count
            if view.count > Self.maxHead {
                context.fireChannelRead(wrapInboundOut(all))
                pending = nil
                scanned = 0
            } else {
                pending = all
            }
            return
        }
        pending = nil
        scanned = 0
        if Self.mayNeedRewrite(head.readableBytesView), let rewritten = Self.normalize(Array(head.readableBytesView)) {
            context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: rewritten)))
        } else {
            context.fireChannelRead(wrapInboundOut(head))
        }
        if all.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(all)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let p = pending {
            pending = nil
            scanned = 0
            context.fireChannelRead(wrapInboundOut(p))
        }
        context.fireChannelInactive()
    }

    /// The index just past the blank line ending the head, if it has arrived; the search
    /// starts `offset` bytes in.
    static func headEnd(_ bytes: ByteBufferView, from offset: Int = 0) -> Int? {
        var i = bytes.startIndex + offset
        while i + 3 < bytes.endIndex {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    /// Methods llhttp parses (RFC 7231, WebDAV and the others it lists).
    static let knownMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "COPY", "LOCK", "MKCOL", "MOVE",
        "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT", "MKACTIVITY", "CHECKOUT",
        "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PURGE", "MKCALENDAR", "LINK", "UNLINK", "SOURCE",
    ]

    /// A cheap first look (every request passes here): a non-ASCII byte, a method outside the
    /// common ones, or a transfer-encoding header at all.
    static func mayNeedRewrite(_ head: ByteBufferView) -> Bool {
        if head.contains(where: { $0 >= 0x80 }) { return true }
        let method = head.prefix { $0 != 32 }
        if !commonMethods.contains(where: { $0.elementsEqual(method) }) { return true }
        let marker = Array("ransfer-".utf8)
        return head.withContiguousStorageIfAvailable { raw in
            raw.count >= marker.count && (0...(raw.count - marker.count)).contains { i in raw[i..<(i + marker.count)].elementsEqual(marker) }
        } ?? true
    }

    private static let commonMethods = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "COPY"].map { Array($0.utf8) }

    /// The head with the rewrites above, or nil when it needs none.
    static func normalize(_ head: [UInt8]) -> [UInt8]? {
        guard let lineEnd = head.firstIndex(of: 13), lineEnd + 1 < head.count, head[lineEnd + 1] == 10 else { return nil }
        let line = head[..<lineEnd]
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var changed = false
        var method = Array(parts[0])
        var extra: [UInt8] = []
        let isToken = !method.isEmpty && method.allSatisfy { $0 > 32 && $0 < 127 && !"()<>@,;:\\\"/[]?={}".utf8.contains($0) }
        if isToken, !knownMethods.contains(String(decoding: method, as: UTF8.self)) {
            extra += Array("X-Nimbus-Unknown-Method: ".utf8) + method + [13, 10]
            method = Array("GET".utf8)
            changed = true
        }
        var target: [UInt8] = []
        for b in parts[1] {
            if b >= 0x80 {
                target += Array("%".utf8) + hex(b)
                changed = true
            } else {
                target.append(b)
            }
        }
        var headers: [UInt8] = []
        var rest = head[(lineEnd + 2)...]
        while let cr = rest.firstIndex(of: 13), cr + 1 < rest.endIndex, rest[cr + 1] == 10 {
            var field = Array(rest[rest.startIndex..<cr])
            rest = rest[(cr + 2)...]
            if let colon = field.firstIndex(of: UInt8(ascii: ":")),
               String(decoding: field[..<colon], as: UTF8.self).lowercased() == "transfer-encoding",
               String(decoding: field[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased() != "chunked" {
                field = Array("X-Nimbus-Unsupported-Transfer-Encoding".utf8) + field[colon...]
                changed = true
            }
            if !field.isEmpty { headers += field + [13, 10] }
        }
        guard changed else { return nil }
        return method + [32] + target + [32] + Array(parts[2]) + [13, 10] + extra + headers + [13, 10]
    }

    private static func hex(_ b: UInt8) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        return [digits[Int(b >> 4)], digits[Int(b & 15)]]
    }
}

/// Whether the next bytes on a connection begin a request head: true at connection start and
/// again once the server has read the previous request whole.
final class RequestStart: Sendable {
    private let flag = NIOLockedValueBox(true)

    func arm() { flag.withLockedValue { $0 = true } }

    /// Answers the flag and clears it.
    func take() -> Bool {
        flag.withLockedValue { value in
            defer { value = false }
            return value
        }
    }
}
