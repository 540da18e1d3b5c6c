import Foundation
import HTTPClientKit
import NIOConcurrencyHelpers
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A pooled connection the server closed while it sat idle is retried once, freshly — and only
/// when no answer had come on it.
@Suite struct StaleConnectionTests {
    /// A raw server answering every request; when `forgetful`, its first connection takes a
    /// second request and closes without a word (a keep-alive timeout racing the client).
    final class ForgetfulServer: Sendable {
        let port: Int
        private let fd: Int32
        let connections = NIOLockedValueBox(0)

        init(forgetful: Bool = true) throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
            guard bound == 0, listen(listener, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
            fd = listener
            port = Int(UInt16(bigEndian: addr.sin_port))
            let counter = connections
            Thread.detachNewThread {
                while true {
                    let c = accept(listener, nil, nil)
                    guard c >= 0 else { return }
                    let n = counter.withLockedValue { $0 += 1; return $0 }
                    Thread.detachNewThread {
                        var served = 0
                        while Self.readRequest(c) {
                            served += 1
                            if forgetful && n == 1 && served == 2 { break }
                            let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                            _ = answer.withCString { send(c, $0, strlen($0), 0) }
                        }
                        close(c)
                    }
                }
            }
        }

        /// Reads one request head; false when the peer closed.
        static func readRequest(_ c: Int32) -> Bool {
            var seen: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while !seen.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
                let n = recv(c, &buf, buf.count, 0)
                if n <= 0 { return false }
                seen += buf[0..<n]
            }
            return true
        }

        func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    @Test func aPooledConnectionClosedUnansweredIsRetriedOnceOnAFreshOne() async throws {
        let server = try ForgetfulServer()
        defer { server.stop() }
        let client = BackendClient()
        defer { client.shutdown() }
        #expect(try await client.request(host: "127.0.0.1", port: server.port, method: "GET", uri: "/a").status == 200)
        let usedReused = NIOLockedValueBox<[Bool]>([])
        let status = try await client.withConnection(host: "127.0.0.1", port: server.port) { conn in
            usedReused.withLockedValue { $0.append(conn.reused) }
            try await conn.sendHead(method: "GET", uri: "/b", headers: ["Host": "h", "Content-Length": "0"])
            try await conn.sendEnd()
            let head = try await conn.readHead()
            _ = try await conn.readFullBody()
            conn.close()
            return head.status.code
        }
        #expect(status == 200)
        // The pooled connection first, then one fresh one; the server saw two connections.
        #expect(usedReused.withLockedValue { $0 } == [true, false])
        #expect(server.connections.withLockedValue { $0 } == 2)
    }

    @Test func aFailureAfterAnAnswerIsNotRetried() async throws {
        let server = try ForgetfulServer(forgetful: false)
        defer { server.stop() }
        let client = BackendClient()
        defer { client.shutdown() }
        #expect(try await client.request(host: "127.0.0.1", port: server.port, method: "GET", uri: "/a").status == 200)
        let attempts = NIOLockedValueBox(0)
        struct AfterTheAnswer: Error {}
        await #expect(throws: AfterTheAnswer.self) {
            _ = try await client.withConnection(host: "127.0.0.1", port: server.port) { conn -> Int in
                attempts.withLockedValue { $0 += 1 }
                try await conn.sendHead(method: "GET", uri: "/b", headers: ["Host": "h", "Content-Length": "0"])
                try await conn.sendEnd()
                _ = try await conn.readHead()
                conn.close()
                throw AfterTheAnswer()
            }
        }
        #expect(attempts.withLockedValue { $0 } == 1)
        #expect(server.connections.withLockedValue { $0 } == 1)
    }
}
