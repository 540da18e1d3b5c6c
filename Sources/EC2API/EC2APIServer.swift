import ControlPlane
import HTTPServerKit
import Logging
import ServiceLifecycle

/// The EC2 Query API as a daemon (`nimbus compute api`).
public final class EC2APIServer: Service, Sendable {
    let server: HTTPServer

    /// The port bound.
    public var port: Int { server.port }

    private init(server: HTTPServer) { self.server = server }

    public static func start(host: String, port: Int, store: any ControlPlaneStore, settings: EC2Settings,
                             logger: Logger) async throws -> EC2APIServer {
        let handler = EC2Handler(store: store, settings: settings, logger: logger)
        let server = try await HTTPServer.bind(host: host, port: port, handler: handler, logger: logger,
                                               options: HTTPServerOptions(maxRequestBody: Int64(EC2Handler.maxBody)))
        logger.notice("EC2 API listening on \(host):\(server.port), region \(settings.region)")
        return EC2APIServer(server: server)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            self.server.close()
        }
    }

    public func close() { server.close() }
}
