import Foundation
import HTTPServerKit
import NimbusCore
import NIOCore

/// `proxy-server`, the pipeline's last stage: `/info`, CORS preflights, the authorization the
/// auth stage installed, and the account, container and object controllers that fan requests
/// out to the storage servers.
struct ProxyServerApp: Sendable {
    /// The `/info` document of the pipeline this app ends.
    let info: @Sendable () -> [String: Any]

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment) async throws -> HTTPResponse {
        if request.path == "/info" { return try infoResponse(request) }
        let path = try env.path()
        let context = env.context
        if request.method == "OPTIONS" { return await CORS(context: context).preflight(request, path) }
        let access = try await env.authorize(request)
        let response: HTTPResponse
        if let object = ObjectPath(path) {
            response = try await env.objects.handle(request, object)
        } else if let container = ContainerPath(path) {
            response = try await ContainerProxy(context: context, access: access).handle(request, container)
        } else {
            response = try await AccountProxy(context: context, access: access).handle(request, path)
        }
        return await CORS(context: context).decorate(response, request, path)
    }

    /// `GET /info`: the constraints and the enabled stages with their settings.
    func infoResponse(_ request: HTTPRequest) throws -> HTTPResponse {
        guard ["GET", "HEAD", "OPTIONS"].contains(request.method) else { throw HTTPError(405, "Method not allowed") }
        let data = try JSONSerialization.data(withJSONObject: info(), options: [.sortedKeys])
        return HTTPResponse(status: 200, headers: ["Content-Type": "application/json; charset=utf-8"], body: .bytes(ByteBuffer(bytes: data)))
    }
}
