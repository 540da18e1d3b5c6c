import NimbusCore

/// An object's full name, for code that only ever handles objects: nothing to unwrap.
struct ObjectPath: Sendable, Equatable {
    let account: String
    let container: String
    let object: String

    init(account: String, container: String, object: String) {
        self.account = account
        self.container = container
        self.object = object
    }

    /// The object a parsed path addresses; nil for account and container paths.
    init?(_ path: SwiftPath) {
        guard let container = path.container, let object = path.object else { return nil }
        self.init(account: path.account, container: container, object: object)
    }

    var swiftPath: SwiftPath { SwiftPath(account: account, container: container, object: object) }
    /// `/account/container/object`, as the object servers are asked for it.
    var backendPath: String { "/\(account)/\(container)/\(object)" }
    var containerPath: ContainerPath { ContainerPath(account: account, container: container) }
}

/// A container's full name (of a container request, or of an object's container).
struct ContainerPath: Sendable, Equatable {
    let account: String
    let container: String

    init(account: String, container: String) {
        self.account = account
        self.container = container
    }

    /// The container a parsed path addresses (also for object paths); nil for account paths.
    init?(_ path: SwiftPath) {
        guard let container = path.container else { return nil }
        self.init(account: path.account, container: container)
    }

    var swiftPath: SwiftPath { SwiftPath(account: account, container: container) }
    /// The key of the container's info in the caches.
    var cacheKey: String { "\(account)/\(container)" }
}

extension Authorizer {
    /// Authorizes `method` on an object.
    func authorize(_ identity: Identity?, method: String, path: ObjectPath, referer: String?, txid: String) async throws -> Access {
        try await authorize(identity, method: method, path: path.swiftPath, referer: referer, txid: txid)
    }
}

extension SwiftPath {
    /// Checks the name limits of an object path built from headers or a manifest.
    static func validate(_ p: ObjectPath, constraints: Constraints) throws(HTTPError) {
        try validate(p.swiftPath, constraints: constraints)
    }
}
