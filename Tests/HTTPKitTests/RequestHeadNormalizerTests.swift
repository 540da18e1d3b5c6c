import Foundation
import Logging
import NIOCore
import Testing
@testable import HTTPServerKit

/// Heads the strict parser would refuse with a bare 400 reach Swift's answers instead.
@Suite struct RequestHeadNormalizerTests {
    func normalized(_ head: String) -> String? {
        RequestHeadNormalizer.normalize(Array(head.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func aHeadArrivingInPiecesIsFoundWhereverTheSearchResumes() {
        let head = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\nrest".utf8)
        let buffer = ByteBuffer(bytes: head)
        #expect(RequestHeadNormalizer.headEnd(buffer.readableBytesView) == head.count - 4)
        for from in 0...(head.count - 8) {
            #expect(RequestHeadNormalizer.headEnd(buffer.readableBytesView, from: from) == head.count - 4)
        }
        #expect(RequestHeadNormalizer.headEnd(buffer.readableBytesView, from: head.count - 7) == nil)
    }

    @Test func ordinaryHeadsAreLeftAlone() {
        #expect(normalized("GET /v1/a/c/o?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n") == nil)
        var buffer = ByteBuffer(string: "PUT /v1/a/c/o HTTP/1.1\r\nContent-Length: 3\r\n\r\n")
        #expect(!RequestHeadNormalizer.mayNeedRewrite(buffer.readableBytesView))
        buffer = ByteBuffer(string: "PUT /v1/a/c/o HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(RequestHeadNormalizer.mayNeedRewrite(buffer.readableBytesView))  // looked at, then left alone
    }

    @Test func rawUTF8InTheTargetIsPercentEncoded() {
        #expect(normalized("PUT /v1/a/caf\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n") == "PUT /v1/a/caf%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    @Test func unknownMethodsBecomeAMarkedGet() {
        #expect(normalized("LICK /v1/a HTTP/1.1\r\nHost: h\r\n\r\n") == "GET /v1/a HTTP/1.1\r\nX-Nimbus-Unknown-Method: LICK\r\nHost: h\r\n\r\n")
        #expect(normalized("GETorHEAD_base /v1/a HTTP/1.1\r\n\r\n") == "GET /v1/a HTTP/1.1\r\nX-Nimbus-Unknown-Method: GETorHEAD_base\r\n\r\n")
    }

    @Test func transferEncodingsOtherThanChunkedAreRenamed() {
        #expect(normalized("PUT /o HTTP/1.1\r\ntransfer-encoding: gzip,chunked\r\n\r\n")
                == "PUT /o HTTP/1.1\r\nX-Nimbus-Unsupported-Transfer-Encoding: gzip,chunked\r\n\r\n")
    }

    /// One raw request on a fresh connection; answers the status line.
    func statusLine(port: Int, _ request: [UInt8]) async throws -> String {
        try await statusLines(port: port, [request])[0]
    }

    /// Requests one after another on one keep-alive connection; answers their status lines.
    func statusLines(port: Int, _ requests: [[UInt8]]) async throws -> [String] {
        try await offPool { Self.blockingStatusLines(port: port, requests) }
    }

    static func blockingStatusLines(port: Int, _ requests: [[UInt8]]) -> [String] {
        guard let socket = RawSocket(port: port) else { return ["connect failed"] }
        var received: [UInt8] = []
        /// Reads one whole response (head, then Content-Length bytes) off the socket.
        func response() -> String? {
            while true {
                if let end = received.indices.first(where: { received[$0...].starts(with: [13, 10, 13, 10]) }) {
                    let head = String(decoding: received[..<end], as: UTF8.self)
                    let length = head.components(separatedBy: "\r\n")
                        .first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                    if received.count >= end + 4 + length {
                        received.removeFirst(end + 4 + length)
                        return head.components(separatedBy: "\r\n")[0]
                    }
                }
                guard let got = socket.receive(), !got.isEmpty else { return nil }
                received += got
            }
        }
        return requests.map { request in
            socket.send(request)
            return response() ?? "no answer"
        }
    }

    @Test func aLiveServerAnswers405And501AndServesRawUTF8Paths() async throws {
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let server = try await HTTPServer.bind(host: "127.0.0.1", port: 0, handler: EchoHandler(), logger: logger)
        let task = Task { try? await server.run() }
        defer {
            server.close()
            task.cancel()
        }
        #expect(try await statusLine(port: server.port, Array("LICK / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)) == "HTTP/1.1 405 Method Not Allowed")
        #expect(try await statusLine(port: server.port, Array("PUT /o HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip,chunked\r\n\r\n".utf8))
                .hasPrefix("HTTP/1.1 501"))
        #expect(try await statusLine(port: server.port, Array("GET /caf".utf8) + [0xC3, 0xA9] + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
                == "HTTP/1.1 200 OK")
        // Later requests on a kept-alive connection are looked at too.
        let get = Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\n".utf8), lick = Array("LICK /a HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        let lines = try await statusLines(port: server.port, [get, lick, get, lick])
        #expect(lines
                == ["HTTP/1.1 200 OK", "HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 200 OK", "HTTP/1.1 405 Method Not Allowed"], "\(lines)")
    }
}
