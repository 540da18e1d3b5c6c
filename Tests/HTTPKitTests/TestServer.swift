import HTTPClientKit
import HTTPServerKit
import Logging

/// Runs `body` against an `HTTPServer` with `handler` on a free port, and a client for it.
func withTestServer(_ handler: some HTTPHandler, _ body: (Int, BackendClient) async throws -> Void) async throws {
    var logger = Logger(label: "t")
    logger.logLevel = .critical
    let server = try await HTTPServer.bind(host: "127.0.0.1", port: 0, handler: handler, logger: logger)
    let task = Task { try? await server.run() }
    let client = BackendClient()
    defer {
        client.shutdown()
        server.close()
        task.cancel()
    }
    try await body(server.port, client)
}
