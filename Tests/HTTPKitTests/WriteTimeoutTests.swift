import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A body write the peer never takes fails after its timeout (the connection is closed), as
/// OpenStack Swift's proxy drops a replica that stops reading for `node_timeout`.
@Suite struct WriteTimeoutTests {
    /// Accepts connections and never reads from them; returns the listener, the port, and the
    /// accepted sockets (kept open until the test closes them).
    static func muteServer() throws -> (listener: Int32, port: Int) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        guard bound == 0, listen(listener, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        // The kernel completes the handshake from the backlog: nothing ever needs to accept.
        return (listener, Int(UInt16(bigEndian: addr.sin_port)))
    }

    @Test func aBodyThePeerNeverReadsFailsAfterTheTimeout() async throws {
        let (listener, port) = try Self.muteServer()
        defer { close(listener) }
        let client = BackendClient()
        defer { client.shutdown() }
        let conn = try await client.connect(host: "127.0.0.1", port: port, fresh: true)
        try await conn.sendHead(method: "PUT", uri: "/d/1/a/c/o", headers: HTTPHeaders([("Transfer-Encoding", "chunked")]))
        let chunk = ByteBuffer(repeating: 0x61, count: 1 << 20)
        var sent = 0
        var failed = false
        let start = ContinuousClock.now
        // Loopback buffers hold some MiB; after that no write completes until the timeout.
        while sent < 256 {
            do {
                try await conn.sendBodyFuture(chunk, timeout: .milliseconds(300)).get()
                sent += 1
            } catch {
                failed = true
                break
            }
        }
        #expect(failed, "\(sent) MiB were taken by a peer that reads nothing")
        #expect(ContinuousClock.now - start < .seconds(60))
        await #expect(throws: (any Error).self) { try await conn.sendBodyFuture(chunk).get() }
    }

    @Test func writesThePeerTakesAreNotCutShort() async throws {
        // The timer of each write is cancelled once it is done: many writes, each well within its
        // timeout, never close the connection.
        let (listener, port) = try Self.muteServer()
        defer { close(listener) }
        let client = BackendClient()
        defer { client.shutdown() }
        let conn = try await client.connect(host: "127.0.0.1", port: port, fresh: true)
        try await conn.sendHead(method: "PUT", uri: "/d/1/a/c/o", headers: HTTPHeaders([("Transfer-Encoding", "chunked")]))
        for _ in 0..<50 {
            try await conn.sendBodyFuture(ByteBuffer(repeating: 0x62, count: 100), timeout: .seconds(1)).get()
        }
        try await Task.sleep(for: .milliseconds(1500))
        try await conn.sendBodyFuture(ByteBuffer(repeating: 0x62, count: 100)).get()
    }
}
