import Foundation
import NIOPosix
import NimbusClient

/// Where a compute host gets images: the registry container of the image service's
/// object-store account, one object per image id, with the image's SHA-256 in its metadata.
public protocol ImageSource: Sendable {
    /// The image's SHA-256 (hex) as registered, nil when the registry does not say.
    func sha256(of id: String) async throws -> String?
    /// Writes the image to `path`.
    func download(_ id: String, to path: String) async throws
}

/// The registry as the image service writes it (`nimbus-images/<id>` in its account).
public struct RegistryImages: ImageSource {
    let client: SwiftClient
    let container: String

    public init(authURL: String, user: String, key: String, container: String = "nimbus-images") {
        client = SwiftClient(credentials: .init(authURL: authURL, user: user, key: key), retries: 3, group: MultiThreadedEventLoopGroup.singleton)
        self.container = container
    }

    public func sha256(of id: String) async throws -> String? {
        let r = try await client.request("HEAD", SwiftClient.path(container, id))
        guard r.status == 200 else {
            throw ImageCache.Unavailable(id: id, reason: r.status == 404 ? "it is not in the registry" : "the registry answered HTTP \(r.status)")
        }
        return r.headers.first(name: "X-Object-Meta-Sha256")
    }

    public func download(_ id: String, to path: String) async throws {
        _ = try await client.getObject(container, id, to: path)
    }

    public func shutdown() { client.shutdown() }
}
