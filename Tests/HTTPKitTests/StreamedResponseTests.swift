import HTTPClientKit
import NimbusCore
import HTTPServerKit
import NIOCore
import NIOHTTP1
import Testing

/// Streams the body the path names.
struct StreamingHandler: HTTPHandler {
    struct Broken: Error {}

    func errorResponse(_ error: HTTPError) -> HTTPResponse { .swiftError(error) }

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        switch request.path {
        case "/chunks":
            return HTTPResponse(status: 200, headers: ["Content-Length": "6"], body: .stream { writer in
                for piece in ["ab", "cd", "ef"] { try await writer.write(ByteBuffer(string: piece)) }
            })
        case "/nothing":
            return HTTPResponse(status: 200, headers: ["Content-Length": "0"], body: .stream { _ in })
        default:
            return HTTPResponse(status: 200, headers: ["Content-Length": "10"], body: .stream { _ in throw Broken() })
        }
    }
}

/// A streamed response's head travels with its first chunk (or its end): what a client sees
/// is the same as when the head went out alone, and a body that fails before its first byte
/// leaves the client no half-answer.
@Suite struct StreamedResponseTests {
    @Test func aStreamedBodyArrivesWholeAndTheConnectionIsReused() async throws {
        try await withTestServer(StreamingHandler()) { port, client in
            for _ in 0..<3 {
                let r = try await client.request(host: "127.0.0.1", port: port, method: "GET", uri: "/chunks", timeout: .seconds(120))
                #expect(r.status == 200)
                #expect(String(buffer: r.body) == "abcdef")
            }
            #expect(try await client.withConnection(host: "127.0.0.1", port: port) { conn in
                defer { conn.close() }
                return conn.reused
            })
        }
    }

    @Test func aStreamThatWritesNothingStillAnswers() async throws {
        try await withTestServer(StreamingHandler()) { port, client in
            let r = try await client.request(host: "127.0.0.1", port: port, method: "GET", uri: "/nothing", timeout: .seconds(120))
            #expect(r.status == 200)
            #expect(r.body.readableBytes == 0)
        }
    }

    @Test func aStreamThatFailsBeforeItsFirstByteClosesWithoutAnswering() async throws {
        try await withTestServer(StreamingHandler()) { port, _ in
            let (received, closed) = try await offPool { () -> ([UInt8], Bool) in
                guard let socket = RawSocket(port: port, timeout: 60) else { return ([], false) }
                socket.send("GET /broken HTTP/1.1\r\nHost: h\r\n\r\n")
                var got: [UInt8] = []
                while let part = socket.receive() {
                    if part.isEmpty { return (got, true) }
                    got += part
                }
                return (got, false)
            }
            #expect(closed, "the server closes the connection")
            #expect(received.isEmpty, "no status line or headers of a response whose body never came")
        }
    }
}
