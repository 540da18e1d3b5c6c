import HTTPClientKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import Ring

/// Sends requests with in-memory bodies to the replicas of a partition.
///
/// Every primary is tried at once; a primary that cannot be reached or answers 5xx/507 is
/// replaced by the partition's next handoff, so a write still lands on `replicas` devices when
/// a node is down.
struct BackendFanout: Sendable {
    let client: BackendClient
    let nodeTimeout: TimeAmount
    let logger: Logger
    /// Where backend requests, their failures and the handoffs used are counted.
    let metrics: ProxyMetrics?

    /// One backend answer, nil status when the node could not be reached.
    struct Reply: Sendable {
        let node: RingDevice
        let response: BackendResponse?
        var status: Int { response?.status ?? 503 }
    }

    static func uri(device: String, partition: Int, path: String, query: String = "") -> String {
        "/\(PercentCoding.encodePath(device))/\(partition)" + PercentCoding.encodePath(path) + (query.isEmpty ? "" : "?" + query)
    }

    func request(_ node: RingDevice, method: String, partition: Int, path: String, query: String = "",
                 headers: HTTPHeaders, body: ByteBuffer? = nil) async -> Reply {
        let server = ProxyMetrics.target(ofBackendPath: path)
        metrics?.backendRequest(server: server, method: method)
        do {
            let r = try await client.request(host: node.ip, port: node.port, method: method,
                                             uri: Self.uri(device: node.device, partition: partition, path: path, query: query),
                                             headers: headers, body: body, timeout: nodeTimeout)
            if r.status >= 500 { metrics?.backendError(server: server) }
            return Reply(node: node, response: r)
        } catch {
            metrics?.backendError(server: server)
            logger.info("backend \(node.address)/\(node.device) \(method) \(path) failed: \(error)",
                        metadata: ["txid": "\(headers.first(name: "x-trans-id") ?? "-")"])
            return Reply(node: node, response: nil)
        }
    }

    /// Writes to all replicas, substituting handoffs for failed primaries.
    /// - Parameter headers: headers for the replica at a given index (container-update pairing).
    func write(ring: Ring, partition: Int, method: String, path: String, headers: @escaping @Sendable (Int) -> HTTPHeaders,
               body: ByteBuffer? = nil) async -> [Reply] {
        var plan = ReplicaPlan(ring: ring, partition: partition)
        let primaries = plan.primaries
        var replies = await withTaskGroup(of: (Int, Reply).self) { group -> [Reply] in
            for (i, node) in primaries.enumerated() {
                group.addTask { (i, await self.request(node, method: method, partition: partition, path: path, headers: headers(i), body: body)) }
            }
            var out = primaries.map { Reply(node: $0, response: nil) }
            for await (i, r) in group { out[i] = r }
            return out
        }
        await plan.replaceFailures(&replies, failed: { Self.shouldRetryElsewhere($0.status) }) { i, node in
            metrics?.handoff(server: ProxyMetrics.target(ofBackendPath: path))
            return await request(node, method: method, partition: partition, path: path, headers: headers(i), body: body)
        }
        return replies
    }

    /// Reads from primaries then handoffs until one answers with something other than 404/5xx;
    /// returns that reply, or the most telling failure.
    func read(ring: Ring, partition: Int, method: String, path: String, query: String = "",
              headers: HTTPHeaders) async -> Reply? {
        var notFound: Reply?
        var lastError: Reply?
        for node in ReplicaPlan(ring: ring, partition: partition).readNodes {
            let r = await request(node, method: method, partition: partition, path: path, query: query, headers: headers)
            if r.status == 404 {
                if notFound == nil { notFound = r }
                continue
            }
            if r.status >= 500 {
                lastError = r
                continue
            }
            return r
        }
        return notFound ?? lastError
    }

    static func shouldRetryElsewhere(_ status: Int) -> Bool { status >= 500 }
}
