import NimbusCore
import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// Echoes bodies, or refuses with 507 before reading when asked to.
struct EchoHandler: HTTPHandler {
    func errorResponse(_ error: HTTPError) -> HTTPResponse { .swiftError(error) }

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        if request.header("x-refuse") != nil { return .text(507, "full\n") }
        let body = try await request.body.collect(limit: 10 << 20)
        return HTTPResponse(status: 200, headers: ["X-Method": request.method], body: .bytes(body))
    }
}

@Suite struct HTTPKitTests {
    func withServer(_ body: (Int, BackendClient) async throws -> Void) async throws {
        try await withTestServer(EchoHandler(), body)
    }

    @Test func bodyRoundTripsAndConnectionsAreReused() async throws {
        try await withServer { port, client in
            // The time limit is generous: this is about bytes and reuse, and a loaded test run
            // may hold a task for seconds.
            for i in 0..<20 {
                let payload = ByteBuffer(string: String(repeating: "x", count: i * 1000))
                let r = try await client.request(host: "127.0.0.1", port: port, method: "PUT", uri: "/p", body: payload,
                                                 timeout: .seconds(120))
                #expect(r.status == 200)
                #expect(r.body == payload)
                #expect(r.headers.first(name: "x-trans-id")?.hasPrefix("tx") == true)
            }
            #expect(try await client.withConnection(host: "127.0.0.1", port: port) { conn in
                defer { conn.close() }
                return conn.reused
            }, "the pool kept the connection")
        }
    }

    @Test func expectContinueGetsContinueThenTheBodyIsRead() async throws {
        try await withServer { port, client in
            let conn = try await client.connect(host: "127.0.0.1", port: port)
            defer { conn.close() }
            try await conn.sendHead(method: "PUT", uri: "/x", headers: ["Expect": "100-continue", "Content-Length": "5", "Host": "h"])
            #expect(try await conn.awaitContinue() == nil)
            try await conn.sendBody(ByteBuffer(string: "hello"))
            try await conn.sendEnd()
            #expect(try await conn.readHead().status == .ok)
            #expect(String(buffer: try await conn.readFullBody()) == "hello")
        }
    }

    @Test func earlyRefusalArrivesInsteadOfContinue() async throws {
        try await withServer { port, client in
            let conn = try await client.connect(host: "127.0.0.1", port: port)
            defer { conn.close() }
            try await conn.sendHead(method: "PUT", uri: "/x",
                                    headers: ["Expect": "100-continue", "Content-Length": "5000000", "X-Refuse": "1", "Host": "h"])
            let early = try await conn.awaitContinue()
            #expect(early?.status.code == 507)
        }
    }

    @Test func customMethodsReachTheHandler() async throws {
        try await withServer { port, client in
            let r = try await client.request(host: "127.0.0.1", port: port, method: "COPY", uri: "/x")
            #expect(r.headers.first(name: "x-method") == "COPY")
        }
    }
}
