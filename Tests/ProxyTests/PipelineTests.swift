import Foundation
import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import NIOConcurrencyHelpers
import Ring
import Testing
@testable import Proxy

/// The pipeline of stages, driven without sockets: requests made in memory, no storage server
/// behind (the stages under test answer before the proxy server would need one).
@Suite struct PipelineTests {
    /// A context whose ring points at nothing: enough for stages that never reach a backend.
    static func context(users: [TempAuthUser] = [TempAuthUser(account: "test", user: "tester", key: "testing", groups: [".admin"])])
        -> ProxyContext {
        var logger = Logger(label: "pipeline-test")
        logger.logLevel = .critical
        let device = RingDevice(id: 0, zone: 1, ip: "127.0.0.1", port: 1, device: "sda", weight: 1)
        let ring = Ring(partPower: 0, replicas: 1, devices: [device], assignments: [[0]],
                        hashPath: HashPathConfig(prefix: "", suffix: "test"))
        let config = ProxyConfig(host: "127.0.0.1", port: 0, ringDirectory: "/nonexistent", users: users)
        let client = BackendClient(connectTimeout: .milliseconds(100))
        let clock = SystemClock()
        return ProxyContext(
            config: config, initialRings: RingSet(account: ring, container: ring, object: ring),
            ringWatcher: RingWatcher(directory: "/nonexistent"), client: client,
            fanout: BackendFanout(client: client, nodeTimeout: .milliseconds(100), logger: logger, metrics: nil),
            auth: TempAuthTokens(users: users, tokenLife: 60, clock: clock), keystone: nil,
            containers: InfoCache(ttl: 10, clock: clock), accounts: InfoCache(ttl: 10, clock: clock),
            accountInfos: InfoCache(ttl: 10, clock: clock), clock: clock, logger: logger, metrics: ProxyMetrics())
    }

    static func pipeline(_ line: String, extra: [String: MiddlewareFactory] = [:], filters: String = "") throws -> (Pipeline, ProxyContext) {
        let config = try PipelineConfig(parsing: "[pipeline:main]\npipeline = \(line)\n\(filters)", source: "test.conf")
        let context = context()
        return (try Pipeline(config: config, context: context, extra: extra), context)
    }

    static func body(_ response: HTTPResponse) async throws -> String {
        switch response.body {
        case .empty: return ""
        case .bytes(let b): return String(buffer: b)
        case .stream(let produce):
            let collected = NIOLockedValueBoxString()
            try await produce(BodyWriter { collected.append(String(buffer: $0)) })
            return collected.value
        }
    }

    /// A stand-in for Swift's `ratelimit`: refuses requests marked as over the limit, and
    /// notes whether it ran before or after authentication.
    struct TestLimiter: Middleware {
        func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
            if request.header("x-test-over-limit") != nil {
                return .text(498, env.identity == nil ? "limited before auth" : "limited after auth")
            }
            return try await next(request, env)
        }
    }

    static let limiter = ["ratelimit": MiddlewareFactory { _, _ in TestLimiter() }]

    @Test func aStageBeforeTheAuthStageAnswersBeforeATokenIsChecked() async throws {
        let (before, ctx) = try Self.pipeline("catch_errors ratelimit tempauth proxy-server", extra: Self.limiter)
        let request = HTTPRequest(method: "GET", uri: "/v1/AUTH_test/c", headers: ["X-Auth-Token": "bogus", "X-Test-Over-Limit": "1"])
        let first = try await before.handle(request, context: ctx)
        #expect(first.status == 498)
        #expect(try await Self.body(first) == "limited before auth")

        let (after, ctx2) = try Self.pipeline("catch_errors tempauth ratelimit proxy-server", extra: Self.limiter)
        let refused = try await after.handle(request, context: ctx2)
        #expect(refused.status == 401)

        let (token, _, _) = try #require(await ctx2.auth.authenticate(user: "test:tester", key: "testing"))
        let known = HTTPRequest(method: "GET", uri: "/v1/AUTH_test/c", headers: ["X-Auth-Token": token, "X-Test-Over-Limit": "1"])
        let limited = try await after.handle(known, context: ctx2)
        #expect(limited.status == 498)
        #expect(try await Self.body(limited) == "limited after auth")
    }

    @Test func anUnknownFilterFailsStartUpWithOneLineNamingIt() throws {
        let config = try PipelineConfig(parsing: "[pipeline:main]\npipeline = catch_errors tempauth xyz proxy-server\n", source: "p.conf")
        #expect(throws: PipelineConfig.ConfigError.self) { try config.check() }
        do {
            try config.check()
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix("unknown filter 'xyz' in [pipeline:main]"))
            #expect(!text.contains("\n"))
        }
        // A section whose entry point does not exist is named with it.
        let aliased = try PipelineConfig(parsing: "[pipeline:main]\npipeline = tempauth mine proxy-server\n[filter:mine]\nuse = egg:swift#nosuch\n",
                                         source: "p.conf")
        #expect(throws: PipelineConfig.ConfigError.self) { try aliased.check() }
        #expect(throws: PipelineConfig.ConfigError.self) {
            try PipelineConfig(parsing: "[pipeline:main]\npipeline = tempauth\n", source: "p.conf")
        }
        #expect(throws: PipelineConfig.ConfigError.self) {
            try PipelineConfig(parsing: "[filter:tempurl]\nuse = egg:swift#tempurl\n", source: "p.conf")
        }
    }

    @Test func swiftsRequiredFiltersAreAddedWhereSwiftAddsThem() throws {
        var quiet = Logger(label: "t")
        quiet.logLevel = .critical
        let config = try PipelineConfig(parsing: "[pipeline:main]\npipeline = healthcheck tempauth slo proxy-server\n", source: "p.conf")
        let stages = try MiddlewareRegistry.resolve(config, known: MiddlewareRegistry.builtIn, logger: quiet).map(\.entry)
        #expect(stages == ["catch_errors", "gatekeeper", "healthcheck", "tempauth", "copy", "dlo", "slo", "versioned_writes"])
    }

    @Test func aStageThatActsForTheRequesterMustFollowTheAuthStage() throws {
        let config = try PipelineConfig(parsing: "[pipeline:main]\npipeline = bulk tempauth proxy-server\n", source: "p.conf")
        #expect(throws: PipelineConfig.ConfigError.self) { try config.check() }
    }

    @Test func theDefaultPipelineIsSwiftsOrderAndNamesSectionsLikeSwift() throws {
        #expect(PipelineConfig.default.names.first == "catch_errors")
        #expect(PipelineConfig.default.names.last == "proxy-server")
        #expect(PipelineConfig.default.entries["proxy-logging"] == "proxy_logging")
        #expect(PipelineConfig.default.entries["container-quotas"] == "container_quotas")
        try PipelineConfig.default.check()
    }

    @Test func infoListsExactlyTheEnabledStagesWithTheirOptions() async throws {
        let (pipeline, ctx) = try Self.pipeline("catch_errors tempurl tempauth symlink proxy-server",
                                                filters: "[filter:tempurl]\nuse = egg:swift#tempurl\nmethods = GET HEAD\n[filter:symlink]\nsymloop_max = 5\n")
        let response = try await pipeline.handle(HTTPRequest(method: "GET", uri: "/info"), context: ctx)
        let info = try #require(try JSONSerialization.jsonObject(with: Data(try await Self.body(response).utf8)) as? [String: Any])
        #expect(Set(info.keys) == ["swift", "tempurl", "tempauth", "symlink", "versioned_writes"])
        #expect((info["tempurl"] as? [String: Any])?["methods"] as? [String] == ["GET", "HEAD"])
        #expect((info["symlink"] as? [String: Any])?["symloop_max"] as? Int == 5)
        // Swift's clients (its functional tests among them) send their token to /info too, a
        // stale or unknown one included: it is answered all the same.
        let withToken = try await pipeline.handle(HTTPRequest(method: "GET", uri: "/info", headers: ["X-Auth-Token": "AUTH_tkunknown"]),
                                                  context: ctx)
        #expect(withToken.status == 200)
        #expect(try await Self.body(withToken) == (try await Self.body(try await pipeline.handle(HTTPRequest(method: "GET", uri: "/info"), context: ctx))))
    }

    @Test func aBadFilterOptionFailsStartUp() throws {
        #expect(throws: PipelineConfig.ConfigError.self) {
            try Self.pipeline("tempurl tempauth proxy-server", filters: "[filter:tempurl]\nmethods = GET FETCH\n")
        }
    }

    @Test func healthcheckAnswersAndCanBeDisabledByFile() async throws {
        let flag = FileManager.default.temporaryDirectory.appendingPathComponent("disable-\(UUID())").path
        let (pipeline, ctx) = try Self.pipeline("healthcheck proxy-server", filters: "[filter:healthcheck]\ndisable_path = \(flag)\n")
        let ok = try await pipeline.handle(HTTPRequest(method: "GET", uri: "/healthcheck"), context: ctx)
        #expect(ok.status == 200)
        #expect(try await Self.body(ok) == "OK")
        FileManager.default.createFile(atPath: flag, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: flag) }
        let off = try await pipeline.handle(HTTPRequest(method: "GET", uri: "/healthcheck"), context: ctx)
        #expect(off.status == 503)
        #expect(try await Self.body(off) == "DISABLED BY FILE")
    }

    @Test func copyBecomesAPutOfTheDestinationWithXCopyFrom() async throws {
        struct Recorder: Middleware {
            func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
                .text(200, "\(request.method) \(request.path) \(request.header("x-copy-from") ?? "-") \(env.objectPath?.object ?? "-")")
            }
        }
        let (pipeline, ctx) = try Self.pipeline("catch_errors copy record proxy-server", extra: ["record": MiddlewareFactory { _, _ in Recorder() }])
        let copy = HTTPRequest(method: "COPY", uri: "/v1/AUTH_test/c/src%20o", headers: ["Destination": "c2/dest"])
        let response = try await pipeline.handle(copy, context: ctx)
        #expect(try await Self.body(response) == "PUT /v1/AUTH_test/c2/dest /c/src%20o dest")
        let missing = try await pipeline.handle(HTTPRequest(method: "COPY", uri: "/v1/AUTH_test/c/o"), context: ctx)
        #expect(missing.status == 412)
    }

    @Test func gatekeeperKeepsClusterHeadersOutInBothDirections() async throws {
        struct Echo: Middleware {
            func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
                let seen = request.headers.map { $0.name.lowercased() }.sorted().joined(separator: ",")
                return .text(200, seen, headers: ["X-Backend-Secret": "1", "X-Object-Sysmeta-Thing": "2", "X-Fine": "3"])
            }
        }
        let (pipeline, ctx) = try Self.pipeline("gatekeeper echo proxy-server", extra: ["echo": MiddlewareFactory { _, _ in Echo() }])
        let request = HTTPRequest(method: "GET", uri: "/v1/AUTH_test/c/o",
                                  headers: ["X-Backend-Storage-Policy-Index": "1", "X-Object-Sysmeta-Foo": "x", "X-Timestamp": "1", "X-Ok": "y"])
        let response = try await pipeline.handle(request, context: ctx)
        #expect(try await Self.body(response) == "x-ok")
        #expect(response.headers.first(name: "x-backend-secret") == nil)
        #expect(response.headers.first(name: "x-object-sysmeta-thing") == nil)
        #expect(response.headers.first(name: "x-fine") == "3")
    }

    @Test func proxyLoggingCountsRequestsOnMetrics() async throws {
        let (pipeline, ctx) = try Self.pipeline("catch_errors proxy-logging healthcheck tempauth proxy-server")
        _ = try await pipeline.handle(HTTPRequest(method: "GET", uri: "/healthcheck"), context: ctx)
        _ = try await pipeline.handle(HTTPRequest(method: "GET", uri: "/v1/AUTH_test/c", headers: ["X-Auth-Token": "bogus"]), context: ctx)
        let metrics = try await Self.body(try await pipeline.handle(HTTPRequest(method: "GET", uri: "/metrics"), context: ctx))
        #expect(metrics.contains(#"nimbus_proxy_requests_total{method="GET",target="other",status="2xx"} 1"#))
        #expect(metrics.contains(#"nimbus_proxy_requests_total{method="GET",target="container",status="4xx"} 1"#))
        #expect(metrics.contains("nimbus_proxy_request_duration_seconds_bucket"))
    }
}

/// Collects a streamed body in a test.
final class NIOLockedValueBoxString: Sendable {
    private let box = NIOLockedValueBox("")
    func append(_ s: String) { box.withLockedValue { $0 += s } }
    var value: String { box.withLockedValue { $0 } }
}

/// SLO manifests name their segments by path; a path is split by bytes, not Characters.
@Suite struct SLOManifestInputTests {
    @Test func aSegmentNamedWithALeadingCombiningMarkIsAnObjectPath() throws {
        let body = Data(#"[{"path": "/segs/\u0900seg", "etag": null, "size_bytes": 1}, {"path": "/segs\u0903/\u0902x", "size_bytes": 1}]"#.utf8)
        let input = try SLOManifestInput(body, manifestPath: try SwiftPath.parse("/v1/AUTH_test/c/m"))
        #expect(input.segments.count == 2)
        #expect(throws: HTTPError.self) {
            try SLOManifestInput(Data(#"[{"path": "/\u0900onlycontainer/", "size_bytes": 1}]"#.utf8), manifestPath: try SwiftPath.parse("/v1/AUTH_test/c/m"))
        }
    }
}
