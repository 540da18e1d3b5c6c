import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import Testing

/// A server closing (or its task cancelled) while clients keep connecting serves or closes
/// every connection it accepted: no trap, no hang.
@Suite struct ShutdownTests {
    func shutDownUnderConnections(cancel: Bool) async throws {
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let server = try await HTTPServer.bind(host: "127.0.0.1", port: 0, handler: EchoHandler(), logger: logger,
                                               options: HTTPServerOptions(drainTimeout: 2))
        let port = server.port
        let running = Task { try await server.run() }
        let client = BackendClient(connectTimeout: .milliseconds(500), maxIdlePerHost: 0)
        let clients = (0..<4).map { i in
            Task {
                while !Task.isCancelled {
                    _ = try? await client.request(host: "127.0.0.1", port: port, method: "PUT", uri: "/\(i)",
                                                  body: ByteBuffer(string: "x"), timeout: .seconds(5))
                }
            }
        }
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...15)))
        if cancel { running.cancel() } else { server.close() }
        try await running.value
        for c in clients { c.cancel() }
        for c in clients { await c.value }
        client.shutdown()
    }

    @Test func closingWhileClientsConnect200Times() async throws {
        for i in 0..<200 { try await shutDownUnderConnections(cancel: i % 2 == 1) }
    }
}
