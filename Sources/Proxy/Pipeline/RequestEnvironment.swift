import HTTPServerKit
import Logging
import NIOConcurrencyHelpers
import NimbusCore

/// What the stages of the pipeline share about one request, as Swift's middleware share the
/// WSGI environ: the typed target, who is asking and how that is checked, and the lookups
/// already made for it (through `context`, whose `scope` belongs to this request).
final class RequestEnvironment: Sendable {
    /// The proxy's shared parts, with this request's scope.
    let context: ProxyContext
    let txid: String
    let logger: Logger
    /// The parsed `/v1/…` path, or why the path is not one.
    let parsedPath: Result<SwiftPath, HTTPError>

    private struct State {
        var identity: Identity?
        var authorizes = false
        var logged = false
        /// The last authorization, kept so the stages and the proxy server check it once.
        var lastAccess: (key: String, access: Access)?
    }

    private let state = NIOLockedValueBox(State())

    init(request: HTTPRequest, context: ProxyContext) {
        self.context = context.scope == nil ? context.scoped(RequestScope()) : context
        txid = request.transactionID
        var logger = context.logger
        logger[metadataKey: "txid"] = "\(request.transactionID)"
        self.logger = logger
        do {
            parsedPath = .success(try SwiftPath.parse(request.path, constraints: context.constraints))
        } catch {
            parsedPath = .failure(error)
        }
    }

    /// The environment of `request`, which a stage made of this one (COPY → PUT): the same
    /// requester, scope and log state, the new request's path.
    func rewritten(for request: HTTPRequest) -> RequestEnvironment {
        let env = RequestEnvironment(request: request, context: context)
        let mine = state.withLockedValue { $0 }
        env.state.withLockedValue { $0 = mine }
        return env
    }

    /// The request's `/v1/account[/container[/object]]`; throws the parse error (400, 412, 404).
    func path() throws(HTTPError) -> SwiftPath { try parsedPath.get() }

    /// The object a request addresses, nil for account and container requests or other paths.
    var objectPath: ObjectPath? { (try? parsedPath.get()).flatMap(ObjectPath.init) }

    /// The container a request addresses (also for object requests), nil otherwise.
    var containerPath: ContainerPath? { (try? parsedPath.get()).flatMap(ContainerPath.init) }

    var scope: RequestScope { context.scope ?? RequestScope() }

    /// Who is asking: set by the auth stage (or by `tempurl` for a signed URL); nil for anonymous.
    var identity: Identity? {
        get { state.withLockedValue { $0.identity } }
        set { state.withLockedValue { $0.identity = newValue } }
    }

    /// Set by the auth stage: requests are then authorized (tempauth's `swift.authorize`).
    /// Without an auth stage in the pipeline, the store is open to everyone, as Swift's is.
    var authorizes: Bool {
        get { state.withLockedValue { $0.authorizes } }
        set { state.withLockedValue { $0.authorizes = newValue } }
    }

    /// Marks the request logged; true when it already was (the second `proxy-logging`).
    func markLogged() -> Bool {
        state.withLockedValue { s in
            defer { s.logged = true }
            return s.logged
        }
    }

    /// Checks that the requester may do `method` on `path` (401 anonymous, 403 otherwise).
    func authorize(_ method: String, _ path: SwiftPath, referer: String?) async throws -> Access {
        guard authorizes else { return Access(isOwner: false, groups: identity?.groups ?? []) }
        let key = "\(method) \(path.joined) \(referer ?? "")"
        if let last = state.withLockedValue({ $0.lastAccess }), last.key == key { return last.access }
        let access = try await Authorizer(context: context).authorize(identity, method: method, path: path, referer: referer, txid: txid)
        state.withLockedValue { $0.lastAccess = (key, access) }
        return access
    }

    /// Checks that the requester may do what `request` asks on its own path.
    func authorize(_ request: HTTPRequest) async throws -> Access {
        try await authorize(request.method, try path(), referer: request.header("referer"))
    }

    /// An object controller acting for this request's requester.
    var objects: ObjectProxy { ObjectProxy(context: context, identity: identity) }
}
