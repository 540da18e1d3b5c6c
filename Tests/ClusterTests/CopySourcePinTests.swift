import Cluster
import Foundation
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
@testable import Proxy
import Testing

/// A stage that checked a copy's source before the copy (s3api's ACL check of a copy made as
/// the bucket owner) pins what it saw; the proxy's copy reads the source again and refuses
/// (412, nothing written) when a write came in between.
@Suite(.serialized, .cluster) final class CopySourcePinTests {
    let h: ClusterHarness

    init() throws { h = try ClusterHarness.scoped() }

    /// Pins the source's `X-Timestamp` to the value of the test's `X-Test-Pin` header.
    struct PinStage: Middleware {
        func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
            if let pin = request.header("x-test-pin") { env.scope.copySourcePin = [("X-Timestamp", pin)] }
            return try await next(request, env)
        }
    }

    @Test func aCopyWhoseSourceChangedSinceItWasPinnedIsRefused() async throws {
        let file = "\(h.root)/pin-pipeline.conf"
        try "[pipeline:main]\npipeline = catch_errors cache tempauth pin copy proxy-server\n".write(toFile: file, atomically: true, encoding: .utf8)
        var config = AllInOne.proxyConfig(dataDir: h.aio.dataDir, host: "127.0.0.1", port: 0)
        config.pipelineFile = file
        var logger = Logger(label: "pin-proxy")
        logger.logLevel = .critical
        let proxy = try await ProxyServer.start(config: config, logger: logger, extraMiddleware: ["pin": MiddlewareFactory { _, _ in PinStage() }])
        let run = Task { try? await proxy.run() }
        defer {
            proxy.close()
            run.cancel()
        }
        let (token, account) = try await h.login()
        let auth = [("X-Auth-Token", token)]
        func at(_ path: String) -> String { "\(account)/\(path)" }
        #expect(try await h.request("PUT", at("pins"), headers: auth).status == 201)
        #expect(try await h.request("PUT", at("pins/src"), headers: auth, body: Array("first".utf8)).status == 201)
        let seen = try #require(try await h.request("HEAD", at("pins/src"), headers: auth).headers.first(name: "x-timestamp"))
        #expect(try await h.request("PUT", at("pins/src"), headers: auth, body: Array("second".utf8)).status == 201)

        let client = h.client
        // Tokens are the issuing proxy's own: log in to this one too.
        let login = try await client.request(host: "127.0.0.1", port: proxy.port, method: "GET", uri: "/auth/v1.0",
                                             headers: HTTPHeaders([("X-Auth-User", "test:tester"), ("X-Auth-Key", "testing")]),
                                             body: nil, timeout: .seconds(30))
        let pinToken = try #require(login.headers.first(name: "x-auth-token"))
        func viaPinProxy(_ dest: String, pin: String) async throws -> Int {
            let headers = HTTPHeaders([("X-Auth-Token", pinToken), ("X-Copy-From", "/pins/src"), ("X-Test-Pin", pin)])
            return try await client.request(host: "127.0.0.1", port: proxy.port, method: "PUT", uri: at(dest), headers: headers,
                                            body: ByteBuffer(), timeout: .seconds(30)).status
        }
        #expect(try await viaPinProxy("pins/stale", pin: seen) == 412)
        #expect(try await h.request("HEAD", at("pins/stale"), headers: auth).status == 404, "nothing written")
        let current = try #require(try await h.request("HEAD", at("pins/src"), headers: auth).headers.first(name: "x-timestamp"))
        #expect(try await viaPinProxy("pins/fresh", pin: current) == 201)
        let copied = try await h.request("GET", at("pins/fresh"), headers: auth)
        #expect(copied.status == 200 && Array(copied.body.readableBytesView) == Array("second".utf8))
    }
}
