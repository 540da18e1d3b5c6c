import Dispatch
import Foundation
import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NimbusClient
import NimbusCore
import Synchronization
import Testing

/// A tempauth-shaped server (auth and account HEAD), counting the requests it gets.
struct AuthCountingHandler: HTTPHandler {
    let requests = Counter()
    let secure: Bool

    final class Counter: Sendable {
        let value = Mutex(0)
        func add() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    func errorResponse(_ error: HTTPError) -> HTTPResponse { .swiftError(error) }

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        requests.add()
        var headers = HTTPHeaders()
        if request.path == "/auth/v1.0", request.header("x-auth-key") == "testing" {
            headers.add(name: "X-Storage-Url", value: "\(secure ? "https" : "http")://\(request.header("host") ?? "")/v1/AUTH_test")
            headers.add(name: "X-Auth-Token", value: "AUTH_tk1")
            return HTTPResponse(status: 200, headers: headers, body: .bytes(ByteBuffer()))
        }
        if request.path == "/v1/AUTH_test", request.header("x-auth-token") == "AUTH_tk1" {
            headers.add(name: "X-Account-Container-Count", value: "0")
            return HTTPResponse(status: 204, headers: headers, body: .bytes(ByteBuffer()))
        }
        return HTTPResponse(status: request.path.hasPrefix("/auth") ? 404 : 401, body: .bytes(ByteBuffer()))
    }
}

/// The client over HTTPS (the CA decides), and its one-line failures.
@Suite(.serialized) struct HTTPSClientTests {
    /// A CA and a server certificate for 127.0.0.1 and localhost, made by openssl (scripts/make-test-ca).
    static let certificates: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-tls-\(getpid())").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/make-test-ca").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: script)
        p.arguments = [dir]
        try? p.run()
        p.waitUntilExit()
        return dir
    }()

    /// The certificates, made on a Dispatch thread (openssl is waited for; not on Swift's few threads).
    static func certificateDirectory() async -> String {
        await withCheckedContinuation { c in DispatchQueue.global().async { c.resume(returning: certificates) } }
    }

    func withServer(tls: Bool, _ body: (Int, AuthCountingHandler) async throws -> Void) async throws {
        let certificates = await Self.certificateDirectory()
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        var options = HTTPServerOptions()
        if tls {
            options.tlsCertificateFile = certificates + "/server.pem"
            options.tlsKeyFile = certificates + "/server.key"
        }
        let handler = AuthCountingHandler(secure: tls)
        let server = try await HTTPServer.bind(host: "127.0.0.1", port: 0, handler: handler, logger: logger, options: options)
        let task = Task { try? await server.run() }
        defer {
            server.close()
            task.cancel()
        }
        try await body(server.port, handler)
    }

    func client(_ url: String, tls: ClientTLS = ClientTLS(), retries: Int = 0) -> SwiftClient {
        var c = SwiftClient.Credentials(authURL: url, user: "test:tester", key: "testing")
        c.tls = tls
        return SwiftClient(credentials: c, retries: retries, group: MultiThreadedEventLoopGroup.singleton)
    }

    @Test func theServersCertificateIsCheckedAgainstTheGivenCA() async throws {
        try await withServer(tls: true) { port, _ in
            let trusted = client("https://127.0.0.1:\(port)/auth/v1.0", tls: ClientTLS(caFile: Self.certificates + "/ca.pem"))
            defer { trusted.shutdown() }
            let trustedStatus = try await trusted.request("HEAD", "").status
            #expect(trustedStatus == 204)
            let byName = client("https://localhost:\(port)/auth/v1.0", tls: ClientTLS(caFile: Self.certificates + "/ca.pem"))
            defer { byName.shutdown() }
            let byNameStatus = try await byName.request("HEAD", "").status
            #expect(byNameStatus == 204)

            let stranger = client("https://127.0.0.1:\(port)/auth/v1.0")
            defer { stranger.shutdown() }
            let refused = await #expect(throws: ClientError.self) { try await stranger.authenticate() }
            #expect(refused?.description.contains("is not trusted") == true, "\(refused.map { "\($0)" } ?? "")")
            #expect(refused?.description.contains("--os-cacert") == true)

            let insecure = client("https://127.0.0.1:\(port)/auth/v1.0", tls: ClientTLS(insecure: true))
            defer { insecure.shutdown() }
            let insecureStatus = try await insecure.request("HEAD", "").status
            #expect(insecureStatus == 204)
        }
    }

    @Test func aMissingCAFileIsNamed() async throws {
        let c = client("https://127.0.0.1:1/auth/v1.0", tls: ClientTLS(caFile: "/nonexistent/ca.pem"))
        defer { c.shutdown() }
        let e = await #expect(throws: ClientError.self) { try await c.authenticate() }
        #expect(e?.description.contains("cannot read the CA file /nonexistent/ca.pem") == true)
    }

    @Test func plainHTTPToAnHTTPSServerIsNotTakenForAnAnswer() async throws {
        try await withServer(tls: true) { port, _ in
            let c = client("http://127.0.0.1:\(port)/auth/v1.0")
            defer { c.shutdown() }
            let e = await #expect(throws: ClientError.self) { try await c.authenticate() }
            #expect(e?.description.contains("try https://") == true)
        }
    }

    @Test func aRefusedConnectionIsRetriedVisiblyThenSaidInOneLine() async throws {
        // A port just released by a server: nobody listens on it.
        var port = 0
        try await withServer(tls: false) { p, _ in port = p }
        let retries = Mutex<[String]>([])
        var creds = SwiftClient.Credentials(authURL: "http://127.0.0.1:\(port)/auth/v1.0", user: "u", key: "k")
        creds.tls = ClientTLS()
        let c = SwiftClient(credentials: creds, retries: 2, group: MultiThreadedEventLoopGroup.singleton,
                            onRetry: { line in retries.withLock { $0.append(line) } }, connectHint: "check -A")
        defer { c.shutdown() }
        let e = await #expect(throws: ClientError.self) { try await c.authenticate() }
        let text = e?.description ?? ""
        #expect(text.contains("cannot connect to 127.0.0.1:\(port) (connection refused) after 3 attempts"))
        #expect(text.hasSuffix("— check -A"))
        #expect(!text.contains("\n"))
        #expect(retries.withLock { $0.count } == 2)
    }

    @Test func aWrongAuthPathIsAskedOnceAndNamesTheAuthVersion() async throws {
        try await withServer(tls: false) { port, handler in
            let c = client("http://127.0.0.1:\(port)/auth/v2.0", retries: 5)
            defer { c.shutdown() }
            let e = await #expect(throws: ClientError.self) { try await c.authenticate() }
            #expect(e?.description.contains("--auth-version") == true)
            #expect(handler.requests.count == 1)
        }
    }
}

