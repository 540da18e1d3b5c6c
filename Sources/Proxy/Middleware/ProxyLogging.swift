import HTTPServerKit
import NimbusCore
import NIOConcurrencyHelpers
import NIOCore

/// `proxy-logging`: one access line per client request, written when its response has been
/// sent (a streamed body's bytes counted as they go), and the same request in the proxy's
/// Prometheus metrics, served on `GET /metrics`. Swift puts it in the pipeline twice, so
/// that requests made by stages in between are logged too; here the first one logs a request
/// and the second sees it already logged.
struct ProxyLogging: Middleware {
    init(options: [String: String]) {}

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        if request.path == "/metrics", request.method == "GET" || request.method == "HEAD" {
            return .text(200, env.context.metrics.exposition(), headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"])
        }
        if env.markLogged() { return try await next(request, env) }
        let started = ContinuousClock.now
        var line = Line(method: request.method, remote: request.remoteAddress,
                        uri: request.query.isEmpty ? request.path : "\(request.path)?\(request.query)")
        var response: HTTPResponse
        do {
            response = try await next(request, env)
        } catch {
            // A body a stage streams in while it answers (bulk extraction) is counted this far.
            line.received = request.body.bytesRead
            record(line, env, status: (error as? HTTPError)?.status ?? 500, sent: 0, started: started)
            throw error
        }
        line.received = request.body.bytesRead
        switch response.body {
        case .empty:
            record(line, env, status: response.status, sent: 0, started: started)
        case .bytes(let buffer):
            record(line, env, status: response.status, sent: Int64(buffer.readableBytes), started: started)
        case .stream(let produce):
            let status = response.status
            let line = line
            response.body = .stream { writer in
                let sent = NIOLockedValueBox<Int64>(0)
                do {
                    try await produce(BodyWriter { buffer in
                        sent.withLockedValue { $0 += Int64(buffer.readableBytes) }
                        try await writer.write(buffer)
                    })
                } catch {
                    // The client got the head but not the whole body.
                    self.record(line, env, status: status, sent: sent.withLockedValue { $0 }, started: started, note: " aborted")
                    throw error
                }
                self.record(line, env, status: status, sent: sent.withLockedValue { $0 }, started: started)
            }
        }
        return response
    }

    /// What the access line says about the request itself.
    struct Line: Sendable {
        let method: String
        let remote: String
        let uri: String
        var received: Int64 = 0
    }

    private func record(_ line: Line, _ env: RequestEnvironment, status: Int, sent: Int64, started: ContinuousClock.Instant,
                        note: String = "") {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let ms = (seconds * 1000 * 1000).rounded() / 1000
        env.logger.info("\(line.remote) \"\(line.method) \(line.uri)\" \(status) \(sent) \(line.received) \(ms)ms\(note)")
        let target: ProxyMetrics.Target
        switch env.parsedPath {
        case .success(let p): target = p.object != nil ? .object : p.container != nil ? .container : .account
        case .failure: target = .other
        }
        env.context.metrics.request(method: line.method, target: target, status: status, seconds: seconds,
                                    bytesIn: line.received, bytesOut: sent)
    }
}
