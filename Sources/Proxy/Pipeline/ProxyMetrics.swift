import Prometheus

/// The proxy's Prometheus metrics, served on its `/metrics` by the `proxy-logging` stage:
/// client requests by method, status class and what they address, their latency, bytes in and
/// out, and what they cost behind the proxy (backend requests, errors, handoffs used).
final class ProxyMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    /// What a request addresses, as Swift's statsd metrics split them.
    enum Target: String, Sendable {
        case account, container, object
        /// `/info`, `/auth`, `/healthcheck`…
        case other
    }

    /// Latency buckets, from a cached HEAD to a large upload.
    static let buckets: [Duration] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
        .map { Duration.nanoseconds(Int64($0 * 1e9)) }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "nimbus", subsystem: "proxy", metricName: metric, unitName: unit, helpText: help)
    }

    /// Records one client request once its response has been sent.
    func request(method: String, target: Target, status: Int, seconds: Double, bytesIn: Int64, bytesOut: Int64) {
        let labels = [("method", Self.knownMethod(method)), ("target", target.rawValue), ("status", "\(status / 100)xx")]
        registry.makeCounter(descriptor: Self.name("requests", "total", "Client requests answered"), labels: labels).increment()
        registry.makeDurationHistogram(descriptor: Self.name("request_duration", "seconds", "Time to answer a client request"),
                                       labels: [("method", Self.knownMethod(method)), ("target", target.rawValue)],
                                       buckets: Self.buckets)
            .record(Duration.nanoseconds(Int64(max(0, seconds) * 1e9)))
        let t = [("target", target.rawValue)]
        registry.makeCounter(descriptor: Self.name("received", "bytes", "Request body bytes received from clients"), labels: t)
            .increment(by: max(0, bytesIn))
        registry.makeCounter(descriptor: Self.name("sent", "bytes", "Response body bytes sent to clients"), labels: t)
            .increment(by: max(0, bytesOut))
    }

    /// Counts one request the proxy sent to a storage server.
    func backendRequest(server: Target, method: String) {
        registry.makeCounter(descriptor: Self.name("backend_requests", "total", "Requests sent to account, container and object servers"),
                             labels: [("server", server.rawValue), ("method", Self.knownMethod(method))]).increment()
    }

    /// Counts a storage server that could not be reached or answered 5xx.
    func backendError(server: Target) {
        registry.makeCounter(descriptor: Self.name("backend_errors", "total", "Backend requests that failed or answered 5xx"),
                             labels: [("server", server.rawValue)]).increment()
    }

    /// Counts a handoff used in place of a primary.
    func handoff(server: Target) {
        registry.makeCounter(descriptor: Self.name("handoffs", "total", "Handoff nodes used in place of primaries"),
                             labels: [("server", server.rawValue)]).increment()
    }

    /// The Prometheus text exposition.
    func exposition() -> String { registry.emitToString() }

    /// A method as a label: anything else folds into `OTHER` so clients cannot grow the label set.
    static func knownMethod(_ method: String) -> String {
        ["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS"].contains(method) ? method : "OTHER"
    }

    /// What a backend path (`/account[/container[/object]]`) addresses.
    static func target(ofBackendPath path: String) -> Target {
        switch path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), maxSplits: 2, omittingEmptySubsequences: false).count {
        case 1: return .account
        case 2: return .container
        default: return .object
        }
    }
}
