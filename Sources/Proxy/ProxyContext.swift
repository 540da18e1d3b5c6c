import HTTPClientKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import Ring

/// Everything a proxy request handler needs; built once per proxy server.
struct ProxyContext: Sendable {
    let config: ProxyConfig
    /// The rings at start-up, used until the watcher has read newer files.
    let initialRings: RingSet
    let ringWatcher: RingWatcher
    let client: BackendClient
    let fanout: BackendFanout
    let auth: TempAuthTokens
    /// Keystone's tokens, when the proxy is configured with a Keystone.
    let keystone: KeystoneTokens?
    let containers: InfoCache<ContainerInfo>
    /// Accounts known to exist (so container PUTs skip the account HEAD).
    let accounts: InfoCache<Bool>
    /// Account metadata (ACLs, temp URL keys, quotas), for requests by non-owners and middleware.
    let accountInfos: InfoCache<AccountInfo>
    let clock: any WallClock
    let logger: Logger
    /// The proxy's Prometheus metrics (`proxy-logging` serves them).
    let metrics: ProxyMetrics
    /// What the current request has looked up and which stages it passed; nil outside one.
    private(set) var scope: RequestScope?

    /// This context for one request.
    func scoped(_ scope: RequestScope) -> ProxyContext {
        var c = self
        c.scope = scope
        return c
    }

    var constraints: Constraints { config.constraints }
    /// The current rings.
    var rings: RingSet { ringWatcher.rings ?? initialRings }
    var nodeTimeout: TimeAmount { .milliseconds(Int64(config.nodeTimeout * 1000)) }

    /// A fresh write timestamp.
    func timestamp() -> Timestamp { Timestamp(seconds: clock.now()) }

    /// Headers every backend request carries.
    func backendHeaders(txid: String, timestamp: Timestamp? = nil) -> HTTPHeaders {
        var h = HTTPHeaders()
        h.add(name: "X-Trans-Id", value: txid)
        if let timestamp { h.add(name: "X-Timestamp", value: timestamp.internalForm) }
        return h
    }

    /// Whether lookups may come from the shared cache: always outside a request, within one
    /// when the pipeline has `cache`.
    private var sharedCacheAllowed: Bool { scope?.usesSharedCache ?? true }

    /// Looks up a container: existence, usage and ACLs. A request looks each container up
    /// once (its scope keeps the answer); `fresh` asks for one read from the container servers
    /// during this request, not one from the shared cache.
    func containerInfo(account: String, container: String, txid: String, fresh: Bool = false) async -> ContainerInfo {
        let key = "\(account)/\(container)"
        if let known = scope?.container(key, fresh: fresh) { return known }
        if !fresh, sharedCacheAllowed, let cached = containers.get(key) {
            scope?.remember(container: key, cached, fromBackend: false)
            return cached
        }
        let (part, _) = rings.container.nodes(account: account, container: container)
        let reply = await fanout.read(ring: rings.container, partition: part, method: "HEAD",
                                      path: "/\(account)/\(container)", headers: backendHeaders(txid: txid))
        let info: ContainerInfo
        if let r = reply?.response, (200..<300).contains(r.status) {
            info = ContainerInfo(exists: true, objectCount: Int64(r.headers.first(name: "x-container-object-count") ?? "0") ?? 0,
                                 bytesUsed: Int64(r.headers.first(name: "x-container-bytes-used") ?? "0") ?? 0,
                                 headers: r.headers.map { ($0.name, $0.value) },
                                 read: r.headers.first(name: "x-container-read"), write: r.headers.first(name: "x-container-write"))
            containers.set(key, info)
            scope?.remember(container: key, info, fromBackend: true)
        } else {
            info = ContainerInfo(exists: false, objectCount: 0, bytesUsed: 0, headers: [], read: nil, write: nil)
            if reply?.status == 404 {
                containers.set(key, info)
                scope?.remember(container: key, info, fromBackend: true)
            }
        }
        return info
    }

    /// Looks up an account, once per request like a container: nil when it does not exist or
    /// cannot be read.
    func accountInfo(_ account: String, txid: String, fresh: Bool = false) async -> AccountInfo? {
        if let known = scope?.account(account, fresh: fresh) { return known }
        if !fresh, sharedCacheAllowed, let cached = accountInfos.get(account) {
            scope?.remember(account: account, cached, fromBackend: false)
            return cached
        }
        let (part, _) = rings.account.nodes(account: account)
        let reply = await fanout.read(ring: rings.account, partition: part, method: "HEAD",
                                      path: "/\(account)", headers: backendHeaders(txid: txid))
        guard let r = reply?.response, (200..<300).contains(r.status) else { return nil }
        let info = AccountInfo(headers: r.headers.map { ($0.name, $0.value) })
        accountInfos.set(account, info)
        scope?.remember(account: account, info, fromBackend: true)
        return info
    }

    /// Forgets what is known of a container that was just created, changed or deleted.
    func invalidateContainer(account: String, container: String) {
        let key = "\(account)/\(container)"
        containers.invalidate(key)
        scope?.forget(container: key)
    }

    /// Forgets what is known of an account that was just changed.
    func invalidateAccount(_ account: String) {
        accountInfos.invalidate(account)
        scope?.forget(account: account)
    }

    /// Per-replica headers of an object write: `base` plus the container replica to update
    /// (object replica i updates container replica i, as OpenStack Swift pairs them). The
    /// container's partition and primaries are found once for all replicas.
    func withContainerUpdates(_ base: HTTPHeaders, account: String, container: String) -> @Sendable (Int) -> HTTPHeaders {
        let (part, nodes) = rings.container.nodes(account: account, container: container)
        return { i in
            var h = base
            guard !nodes.isEmpty else { return h }
            let node = nodes[i % nodes.count]
            h.add(name: "X-Container-Host", value: node.address)
            h.add(name: "X-Container-Device", value: node.device)
            h.add(name: "X-Container-Partition", value: String(part))
            return h
        }
    }
}

/// Response headers that never go from a backend to a client.
enum HeaderFilter {
    /// A backend answer's headers as the proxy server passes them up the pipeline. System
    /// metadata stays: the stages read it (s3api's stored checksum), and `gatekeeper` keeps it
    /// from clients, as in Swift.
    static func clientHeaders(_ backend: HTTPHeaders) -> HTTPHeaders {
        var out = HTTPHeaders()
        for (name, value) in backend {
            let l = name.lowercased()
            if l.hasPrefix("x-backend-") || l == "connection" || l == "transfer-encoding" || l == "date"
                || l == "x-trans-id" || l == "x-openstack-request-id" || l == "keep-alive" {
                continue
            }
            // SLO's `;swift_bytes=` is for listings only.
            out.add(name: name, value: l == "content-type" ? ContentTypeParams.clean(value) : value)
        }
        return out
    }
}
