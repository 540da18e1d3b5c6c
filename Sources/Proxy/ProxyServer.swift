import HTTPClientKit
import HTTPServerKit
import Logging
import NimbusCore
import Ring
import ServiceLifecycle

/// The proxy server as a `Service`: tempauth, ring lookups and backend fan-out on one port.
public final class ProxyServer: Service, Sendable {
    private let server: HTTPServer
    private let client: BackendClient
    public let config: ProxyConfig

    /// The bound port.
    public var port: Int { server.port }

    private let watcher: RingWatcher

    private init(server: HTTPServer, client: BackendClient, config: ProxyConfig, watcher: RingWatcher) {
        self.watcher = watcher
        self.server = server
        self.client = client
        self.config = config
    }

    /// Loads the rings and binds the port.
    /// - Parameter users: tempauth users beyond the config's (the control plane's project members).
    public static func start(config: ProxyConfig, users: (any TempAuthUserSource)? = nil, clock: any WallClock = SystemClock(),
                             logger: Logger) async throws -> ProxyServer {
        try await start(config: config, users: users, clock: clock, logger: logger, extraMiddleware: [:])
    }

    /// As `start`, with stages beyond the built-in ones that the pipeline may name (tests add
    /// their own this way).
    static func start(config: ProxyConfig, users: (any TempAuthUserSource)? = nil, clock: any WallClock = SystemClock(),
                      logger: Logger, extraMiddleware: [String: MiddlewareFactory]) async throws -> ProxyServer {
        let pipelineConfig = try config.pipelineFile.map { try PipelineConfig.load(path: $0) } ?? .default
        let rings = try RingSet.load(directory: config.ringDirectory)
        let watcher = RingWatcher(directory: config.ringDirectory)
        let client = BackendClient(connectTimeout: .milliseconds(Int64(config.connectTimeout * 1000)))
        let metrics = ProxyMetrics()
        let fanout = BackendFanout(client: client, nodeTimeout: .milliseconds(Int64(config.nodeTimeout * 1000)), logger: logger,
                                   metrics: metrics)
        let context = ProxyContext(
            config: config, initialRings: rings, ringWatcher: watcher, client: client,
            fanout: fanout,
            auth: TempAuthTokens(users: config.users, source: users, tokenLife: config.tokenLife, clock: clock),
            keystone: config.keystone.map { KeystoneTokens(config: $0, clock: clock) },
            containers: InfoCache(ttl: config.containerCacheTTL, clock: clock),
            accounts: InfoCache(ttl: config.containerCacheTTL, clock: clock),
            accountInfos: InfoCache(ttl: config.containerCacheTTL, clock: clock), clock: clock, logger: logger,
            metrics: metrics)
        let pipeline = try Pipeline(config: pipelineConfig, context: context, extra: extraMiddleware)
        logger.notice("proxy pipeline: \(pipeline.stages.map(\.name).joined(separator: " ")) proxy-server")
        var options = config.server
        // proxy-logging writes the access lines when it is in the pipeline.
        if pipeline.stages.contains(where: { $0.middleware is ProxyLogging }) { options.accessLog = false }
        if options.maxRequestBody == nil { options.maxRequestBody = config.constraints.maxFileSize }
        let server = try await HTTPServer.bind(host: config.host, port: config.port, handler: ProxyHandler(context: context, pipeline: pipeline), logger: logger,
                                               options: options)
        logger.notice("proxy listening on \(config.host):\(server.port)")
        return ProxyServer(server: server, client: client, config: config, watcher: watcher)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.server.run() }
                // New ring files (after a rebalance) take effect without a restart.
                group.addTask { await self.watcher.watch(interval: .seconds(self.config.ringCheckInterval)) }
                try await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.server.close()
        }
        client.shutdown()
    }

    /// Stops accepting connections.
    public func close() { server.close() }
}
