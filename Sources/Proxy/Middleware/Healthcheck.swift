import Foundation
import HTTPServerKit
import NimbusCore

/// `healthcheck`: `GET /healthcheck` answers `OK` without touching the cluster; when the file
/// named by `disable_path` exists it answers 503 `DISABLED BY FILE`, so a load balancer drains
/// this proxy before maintenance.
struct Healthcheck: Middleware {
    let disablePath: String?

    init(options: [String: String]) {
        disablePath = options["disable_path"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard request.path == "/healthcheck" else { return try await next(request, env) }
        if let disablePath, FileManager.default.fileExists(atPath: disablePath) {
            return .text(503, "DISABLED BY FILE")
        }
        return .text(200, "OK")
    }
}
