import NimbusCore
import Foundation
import HTTPServerKit
import Logging
import Testing

/// Answers after `X-Sleep` milliseconds, echoing the body.
struct SlowHandler: HTTPHandler {
    func errorResponse(_ error: HTTPError) -> HTTPResponse { .swiftError(error) }

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        if let ms = request.header("x-sleep").flatMap({ Int($0) }) { try await Task.sleep(for: .milliseconds(ms)) }
        let body = try await request.body.collect(limit: 1 << 20)
        return HTTPResponse(status: 200, body: .bytes(body))
    }
}

/// Swift's client_timeout, max_clients and the early 413, on the shared server.
@Suite struct ServerLimitTests {
    func withServer(_ options: HTTPServerOptions, _ body: (Int) async throws -> Void) async throws {
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let server = try await HTTPServer.bind(host: "127.0.0.1", port: 0, handler: SlowHandler(), logger: logger, options: options)
        let task = Task { try? await server.run() }
        defer {
            server.close()
            task.cancel()
        }
        try await body(server.port)
    }

    @Test func idleAndHalfSentRequestsAreClosedAfterTheClientTimeout() async throws {
        try await withServer(HTTPServerOptions(clientTimeout: 0.5)) { port in
            let closed = try await offPool { () -> [Bool] in
                guard let idle = RawSocket(port: port), let halfHead = RawSocket(port: port), let halfBody = RawSocket(port: port) else {
                    return []
                }
                halfHead.send("GET / HTTP/1.1\r\nHost: x\r\n")
                halfBody.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
                return [idle.waitForClose(), halfHead.waitForClose(), halfBody.waitForClose()]
            }
            #expect(closed == [true, true, true])
        }
    }

    @Test func aHeadTrickledAByteAtATimeStillTimesOut() async throws {
        try await withServer(HTTPServerOptions(clientTimeout: 0.5)) { port in
            let closed = try await offPool { () -> Bool in
                guard let s = RawSocket(port: port, timeout: 1) else { return false }
                // 20 ms between bytes: about 200 bytes before the 0.5 s are up, 400 sent at most.
                for byte in Array("GET / HTTP/1.1\r\nX-Long: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 400) {
                    s.send([byte])
                    usleep(20_000)
                    var probe = pollfd(fd: s.fd, events: Int16(POLLIN), revents: 0)
                    if poll(&probe, 1, 0) > 0, s.receive(max: 1)?.isEmpty == true { return true }
                }
                return false
            }
            #expect(closed)
        }
    }

    @Test func aSlowAnswerIsNotTheClientsFault() async throws {
        try await withServer(HTTPServerOptions(clientTimeout: 1)) { port in
            let answer = try await offPool { () -> String in
                guard let s = RawSocket(port: port, timeout: 120) else { return "no connection" }
                let start = Date()
                s.send("GET / HTTP/1.1\r\nHost: x\r\nX-Sleep: 2500\r\nContent-Length: 0\r\n\r\n")
                guard let got = s.receive() else { return "no answer after \(Date().timeIntervalSince(start)) s" }
                return got.isEmpty ? "closed after \(Date().timeIntervalSince(start)) s" : String(decoding: got, as: UTF8.self)
            }
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        }
    }

    @Test func contentLengthOverTheLimitOrPastInt64IsRefusedAtOnce() async throws {
        try await withServer(HTTPServerOptions(maxRequestBody: 1000)) { port in
            func answer(_ request: String) async throws -> String {
                try await offPool {
                    guard let s = RawSocket(port: port) else { return "no connection" }
                    s.send(request)
                    return String(decoding: s.receive() ?? [], as: UTF8.self)
                }
            }
            for length in ["1001", "9223372036854775808", "-1"] {
                let got = try await answer("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n\r\n")
                #expect(got.hasPrefix("HTTP/1.1 413") || (length == "-1" && got.hasPrefix("HTTP/1.1 400")), "\(length): \(got)")
            }
            #expect(try await answer("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func connectionsPastTheLimitGet503() async throws {
        try await withServer(HTTPServerOptions(maxConnections: 2)) { port in
            let answer = try await offPool { () -> String in
                guard let a = RawSocket(port: port), let b = RawSocket(port: port) else { return "no connection" }
                a.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                b.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                _ = a.receive()
                _ = b.receive()
                guard let c = RawSocket(port: port) else { return "no connection" }
                c.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                return withExtendedLifetime((a, b)) { String(decoding: c.receive() ?? [], as: UTF8.self) }
            }
            #expect(answer.hasPrefix("HTTP/1.1 503"))
        }
    }
}
