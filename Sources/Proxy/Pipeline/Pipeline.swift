import HTTPServerKit
import Logging
import NimbusCore

/// The proxy's stages, built from a `PipelineConfig`, the proxy server last. A request goes
/// in at the first stage with a fresh `RequestEnvironment`.
struct Pipeline: Sendable {
    /// The stages before the proxy server, with their pipeline names.
    let stages: [(name: String, middleware: any Middleware)]
    private let entry: Next

    /// Builds the stages. `extra` adds stages the pipeline may name beyond the built-in ones.
    init(config: PipelineConfig, context: ProxyContext, extra: [String: MiddlewareFactory] = [:]) throws {
        let known = MiddlewareRegistry.builtIn.merging(extra) { _, added in added }
        let resolved = try MiddlewareRegistry.resolve(config, known: known, logger: context.logger)
        var stages: [(name: String, middleware: any Middleware)] = []
        for (name, entry) in resolved {
            guard let factory = known[entry] else { continue }
            do {
                stages.append((name, try factory.make(config.options[name] ?? [:], context)))
            } catch let error as PipelineConfig.ConfigError {
                throw error
            } catch {
                throw PipelineConfig.ConfigError(description: "[filter:\(name)]: \(error)")
            }
        }
        self.stages = stages
        let listed = stages
        let app = ProxyServerApp(info: { Pipeline.info(listed, context: context) })
        var next = Next { request, env in try await app.handle(request, env) }
        for stage in stages.reversed() {
            let middleware = stage.middleware
            let after = next
            next = Next { request, env in try await middleware.handle(request, env, next: after) }
        }
        entry = next
    }

    /// Answers one client request.
    func handle(_ request: HTTPRequest, context: ProxyContext) async throws -> HTTPResponse {
        try await entry(request, RequestEnvironment(request: request, context: context))
    }

    /// Sends a sub-request (a stage's own request on behalf of its client) through the stages
    /// after the one at `next`.
    static func subrequest(_ request: HTTPRequest, context: ProxyContext, next: Next) async throws -> HTTPResponse {
        try await next(request, RequestEnvironment(request: request, context: context))
    }

    /// `/info`: the proxy's constraints and each enabled stage's entry, with its options.
    static func info(_ stages: [(name: String, middleware: any Middleware)], context: ProxyContext) -> [String: Any] {
        var swift = context.constraints.infoDictionary
        swift["version"] = NimbusVersion.string
        var info: [String: Any] = ["swift": swift]
        for stage in stages {
            for (key, value) in stage.middleware.info { info[key] = value }
        }
        return info
    }
}
