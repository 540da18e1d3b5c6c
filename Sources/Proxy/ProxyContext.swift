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
    let auth: TempAuth
    /// Keystone's tokens, when the proxy is configured with a Keystone.
    let keystone: KeystoneTokens?
    let containers: InfoCache<ContainerInfo>
    /// Accounts known to exist (so container PUTs skip the account HEAD).
    let accounts: InfoCache<Bool>
    /// Account metadata (ACLs, temp URL keys, quotas), for requests by non-owners and middleware.
    let accountInfos: InfoCache<AccountInfo>
    let clock: any WallClock
    let logger: Logger

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

    /// Looks up a container (cached): existence, usage and ACLs.
    func containerInfo(account: String, container: String, txid: String, fresh: Bool = false) async -> ContainerInfo {
        let key = "\(account)/\(container)"
        if !fresh, let cached = containers.get(key) { return cached }
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
        } else {
            info = ContainerInfo(exists: false, objectCount: 0, bytesUsed: 0, headers: [], read: nil, write: nil)
            if reply?.status == 404 { containers.set(key, info) }
        }
        return info
    }

    /// Looks up an account (cached): nil when it does not exist or cannot be read.
    func accountInfo(_ account: String, txid: String, fresh: Bool = false) async -> AccountInfo? {
        if !fresh, let cached = accountInfos.get(account) { return cached }
        let (part, _) = rings.account.nodes(account: account)
        let reply = await fanout.read(ring: rings.account, partition: part, method: "HEAD",
                                      path: "/\(account)", headers: backendHeaders(txid: txid))
        guard let r = reply?.response, (200..<300).contains(r.status) else { return nil }
        let info = AccountInfo(headers: r.headers.map { ($0.name, $0.value) })
        accountInfos.set(account, info)
        return info
    }

    /// Per-replica headers of an object write: `base` plus the container replica to update.
    func withContainerUpdates(_ base: HTTPHeaders, account: String, container: String) -> @Sendable (Int) -> HTTPHeaders {
        let ctx = self
        return { i in
            var h = base
            for (k, v) in ctx.containerUpdateHeaders(account: account, container: container, index: i) { h.add(name: k, value: v) }
            return h
        }
    }

    /// Headers telling replica `index` of a write which container replica to update
    /// (object replica i updates container replica i, as OpenStack Swift pairs them).
    func containerUpdateHeaders(account: String, container: String, index: Int) -> [(String, String)] {
        let (part, nodes) = rings.container.nodes(account: account, container: container)
        guard !nodes.isEmpty else { return [] }
        let node = nodes[index % nodes.count]
        return [("X-Container-Host", node.address), ("X-Container-Device", node.device), ("X-Container-Partition", String(part))]
    }
}

/// Response headers that never go from a backend to a client.
enum HeaderFilter {
    static func clientHeaders(_ backend: HTTPHeaders) -> HTTPHeaders {
        var out = HTTPHeaders()
        for (name, value) in backend {
            let l = name.lowercased()
            if l.hasPrefix("x-backend-") || l == "connection" || l == "transfer-encoding" || l == "date"
                || l == "x-trans-id" || l == "x-openstack-request-id" || l == "keep-alive" || l.contains("sysmeta") {
                continue
            }
            // SLO's `;swift_bytes=` is for listings only.
            out.add(name: name, value: l == "content-type" ? ContentTypeParams.clean(value) : value)
        }
        return out
    }
}
