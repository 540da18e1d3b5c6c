import Cluster
import Foundation
import HTTPClientKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import Synchronization
import ObjectStore
import Testing

/// An in-process all-in-one cluster (4 nodes, 3 replicas, proxy) on ephemeral loopback ports
/// in a temp directory, plus a small client for talking to it. Shared by the cluster tests.
final class ClusterHarness: @unchecked Sendable {
    // @unchecked: `tasks` is written once in `start` before the harness is shared, then only read.
    let aio: AllInOne
    let client = BackendClient()
    let root: String
    private var tasks: [Task<Void, Never>] = []

    private init(aio: AllInOne, root: String, clock: ShiftedClock) {
        self.aio = aio
        self.root = root
        self.clock = clock
    }

    /// The cluster's clock: real time plus an offset tests can advance (expiry without sleeping).
    let clock: ShiftedClock

    static func start(layout: AIOLayout = AIOLayout(partPower: 6), pipelineFile: String? = nil) async throws -> ClusterHarness {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-cluster-\(UUID().uuidString)").path
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let clock = ShiftedClock()
        // The node ports are picked free before the rings are written; a suite running in
        // parallel may take one in between. Then the cluster is set up again on new ports.
        var started: AllInOne?
        for attempt in 0..<5 {
            do {
                started = try await AllInOne.start(dataDir: root + (attempt == 0 ? "" : "-\(attempt)"), layout: layout, proxyPort: 0,
                                                   pipelineFile: pipelineFile, clock: clock, logger: logger)
                break
            } catch where "\(error)".contains("Address already in use") && attempt < 4 {
                continue
            }
        }
        guard let aio = started else { throw HarnessError("cluster did not start") }
        let h = ClusterHarness(aio: aio, root: aio.dataDir, clock: clock)
        for service in aio.services {
            h.tasks.append(Task { try? await service.run() })
        }
        return h
    }

    /// The running test's cluster and the default tempauth user's account path and auth header.
    static func scopedLoggedIn() async throws -> (ClusterHarness, String, [(String, String)]) {
        let h = try scoped()
        let (token, account) = try await h.login()
        return (h, account, [("X-Auth-Token", token)])
    }

    /// Stops every server and waits until each has served or closed its connections.
    func stop() async {
        for n in aio.nodes { n.close() }
        aio.proxy.close()
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        client.shutdown()
        for n in 0..<aio.state.layout.nodes {
            for d in 0..<aio.state.layout.devicesPerNode {
                VolumeStore.unregister("\(aio.devicesRoot(node: n))/\(AllInOne.deviceName(node: n, index: d))")
            }
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The cluster of the running test (see `ClusterScope`).
    @TaskLocal static var current: ClusterHarness?

    /// The running test's cluster; suites marked `.cluster` read it in their `init`.
    static func scoped() throws -> ClusterHarness {
        guard let h = current else { throw HarnessError("the suite needs the .cluster trait") }
        return h
    }

    /// Runs `body` with a fresh cluster and stops it afterwards (also when `body` throws).
    static func with<T>(layout: AIOLayout = AIOLayout(partPower: 6), pipelineFile: String? = nil,
                        _ body: (ClusterHarness) async throws -> T) async throws -> T {
        let h = try await start(layout: layout, pipelineFile: pipelineFile)
        do {
            let result = try await body(h)
            await h.stop()
            return result
        } catch {
            await h.stop()
            throw error
        }
    }

    var proxyPort: Int { aio.proxy.port }

    /// One request to the proxy.
    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> BackendResponse {
        var h = HTTPHeaders()
        for (k, v) in headers { h.add(name: k, value: v) }
        return try await client.request(host: "127.0.0.1", port: proxyPort, method: method, uri: path, headers: h,
                                        body: body.map { ByteBuffer(bytes: $0) }, timeout: .seconds(30))
    }

    /// A token and storage path for a tempauth user.
    func login(_ user: String = "test:tester", _ key: String = "testing") async throws -> (token: String, account: String) {
        let r = try await request("GET", "/auth/v1.0", headers: [("X-Auth-User", user), ("X-Auth-Key", key)])
        guard r.status == 200, let token = r.headers.first(name: "x-auth-token"), let url = r.headers.first(name: "x-storage-url"),
              let range = url.range(of: "/v1/") else { throw HarnessError("login failed: \(r.status)") }
        return (token, "/v1/" + url[range.upperBound...])
    }

    /// Devices (by node index) whose disk holds a `.data` file for the object.
    func devicesHolding(account: String, container: String, object: String) -> [Int] {
        let hash = aio.state.hashPath.hash(account: account, container: container, object: object)
        var out: [Int] = []
        for n in 0..<aio.state.layout.nodes {
            let device = "\(aio.devicesRoot(node: n))/\(AllInOne.deviceName(node: n, index: 0))"
            let objects = "\(device)/objects"
            guard let parts = try? FileManager.default.contentsOfDirectory(atPath: objects) else { continue }
            for p in parts {
                let dir = "\(objects)/\(p)/\(hash.suffix(3))/\(hash)"
                var files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                if let volumes = VolumeStore.registered(device), let part = Int(p) { files += volumes.names(partition: part, hash: hash) }
                if files.contains(where: { $0.hasSuffix(".data") }) { out.append(n) }
            }
        }
        return out
    }

    /// Files currently in every device's `tmp/`.
    func tempFiles() -> [String] {
        (0..<aio.state.layout.nodes).flatMap { n -> [String] in
            let tmp = "\(aio.devicesRoot(node: n))/\(AllInOne.deviceName(node: n, index: 0))/tmp"
            return (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []
        }
    }
}

/// Gives each test of a suite its own cluster, started before the suite's `init` and stopped
/// — awaited — after the test, so no server is torn down from a `deinit` on another thread.
struct ClusterScope: SuiteTrait, TestTrait, TestScoping {
    var layout = AIOLayout(partPower: 6)
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        try await ClusterHarness.with(layout: layout) { h in
            try await ClusterHarness.$current.withValue(h) { try await function() }
        }
    }
}

extension Trait where Self == ClusterScope {
    /// One in-process cluster per test (`ClusterHarness.scoped()` in the suite's `init`).
    static var cluster: Self { ClusterScope() }

    /// As `cluster`, its storage nodes packing small objects into volumes (`objectVolumes`).
    static var clusterWithVolumes: Self {
        var layout = AIOLayout(partPower: 6)
        layout.objectVolumes = true
        return ClusterScope(layout: layout)
    }
}

/// Real time plus an adjustable offset.
final class ShiftedClock: WallClock {
    private let offset = Mutex<Double>(0)
    func now() -> Double { Date().timeIntervalSince1970 + offset.withLock { $0 } }
    func advance(_ seconds: Double) { offset.withLock { $0 += seconds } }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Sends raw bytes over a plain socket and returns the status code of the reply, for requests
/// a well-behaved HTTP client library refuses to make.
func rawStatus(port: Int, _ request: String) throws -> Int {
    let fd = try rawConnect(port: port)
    defer { close(fd) }
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = recv(fd, &buf, buf.count, 0)
    guard n > 12 else { throw HarnessError("no response") }
    let line = String(decoding: buf[0..<n], as: UTF8.self)
    let parts = line.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, let code = Int(parts[1]) else { throw HarnessError("bad status line: \(line.prefix(40))") }
    return code
}

/// A plain TCP socket to 127.0.0.1:`port` with a 10 s receive timeout (close it when done).
func rawConnect(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        throw HarnessError("connect failed")
    }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}
