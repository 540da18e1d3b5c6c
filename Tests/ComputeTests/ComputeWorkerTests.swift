@testable import Compute
import ControlPlane
import Foundation
import HTTPClientKit
import Logging
import NIOConcurrencyHelpers
import NIOHTTP1
import NimbusCore
import Testing

/// Images a test controls: each download waits until its image is released.
final class GatedImages: ImageSource {
    private let released = NIOLockedValueBox<Set<String>>([])
    private let downloads = NIOLockedValueBox<[String]>([])

    func release(_ id: String) { released.withLockedValue { _ = $0.insert(id) } }
    var downloaded: [String] { downloads.withLockedValue { $0 } }

    func sha256(of id: String) async throws -> String? { nil }

    func download(_ id: String, to path: String) async throws {
        downloads.withLockedValue { $0.append(id) }
        while !released.withLockedValue({ $0.contains(id) }) { try await Task.sleep(for: .milliseconds(20)) }
        guard FileManager.default.createFile(atPath: path, contents: Data("image \(id)\n".utf8)) else { throw ComputeError("cannot write \(path)") }
    }
}

/// The compute worker against a real store and libvirt's test driver: it claims queued work,
/// runs several instances at once (a slow image never holds up another), serves consoles, and
/// terminates.
@Suite struct ComputeWorkerTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cw-\(UUID().uuidString)").path

    func setUp() async throws -> (ControlPlaneSQLStore, ComputeWorker, GatedImages, Task<Void, any Error>) {
        let store = try ControlPlaneSQLStore.sqlite(path: "\(dir)/control.db", keyFile: "\(dir)/control.key")
        try await store.migrate()
        _ = try await store.createUser("alice", admin: false)
        _ = try await store.createProject("lab", manager: "alice")
        var config = ComputeWorker.Config(host: "h-\(UUID().uuidString.prefix(6))", vcpus: 8, memoryMiB: 4096, diskGiB: 100,
                                          stateDirectory: "\(dir)/compute")
        config.virtType = "test"
        config.domainPrefix = "t\(UUID().uuidString.prefix(6).lowercased())"
        config.heartbeatInterval = 0.5
        // The test driver never opens the disk: an empty file stands for the overlay.
        config.makeDisk = { _, path in _ = FileManager.default.createFile(atPath: path, contents: Data()) }
        var logger = Logger(label: "compute")
        logger.logLevel = .critical
        let images = GatedImages()
        let worker = try ComputeWorker(config: config, store: store, hypervisor: try LibvirtHypervisor(uri: "test:///default"), images: images,
                                       logger: logger)
        let task = Task { try await worker.run() }
        // Wait for the first heartbeat (the host is schedulable then).
        for _ in 0..<200 where try await store.computeHosts().isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        return (store, worker, images, task)
    }

    func launch(_ store: ControlPlaneSQLStore, image: String, host: String) async throws -> Instance {
        let t = Instance(id: "", project: "lab", user: "alice", reservationID: "r-1", imageID: image, kernelID: "aki-0000000k",
                         instanceType: "m1.tiny", vcpus: 1, memoryMiB: 512, diskGiB: 1, zone: "nova")
        let request = LaunchRequest(template: t, minCount: 1, maxCount: 1, fixedRange: (2...50).map { "10.1.0.\($0)" }, reserved: [],
                                    place: { _ in [host] }, newID: { "i-" + String(UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(17)) })
        return try #require(try await store.launch(request).first)
    }

    func waitFor(_ store: ControlPlaneSQLStore, _ id: String, _ state: Instance.State, seconds: Double = 20) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await store.instance(id)?.state == state { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test func aSlowImageDoesNotHoldUpAnotherInstanceOrItsConsole() async throws {
        let (store, worker, images, task) = try await setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        images.release("aki-0000000k")
        let slow = try await launch(store, image: "ami-00000510", host: worker.config.host)
        let fast = try await launch(store, image: "ami-0000fa57", host: worker.config.host)
        images.release("ami-0000fa57")
        // The fast one runs while the slow one's image is still downloading.
        #expect(try await waitFor(store, fast.id, .running))
        #expect(try await store.instance(slow.id)?.state == .pending)
        #expect(images.downloaded.contains("ami-00000510"))
        // The console endpoint answers meanwhile (the test driver writes no console: 404 is its answer).
        let host = try #require(try await store.computeHosts().first { $0.name == worker.config.host })
        let url = try #require(URL(string: host.endpoint))
        let client = BackendClient()
        defer { client.shutdown() }
        var headers = HTTPHeaders()
        headers.add(name: "X-Worker-Token", value: host.token)
        let console = try await client.request(host: url.host ?? "", port: url.port ?? 0, method: "GET", uri: "/v1/console/\(fast.id)", headers: headers)
        #expect(console.status == 404)
        let refused = try await client.request(host: url.host ?? "", port: url.port ?? 0, method: "GET", uri: "/v1/console/\(fast.id)")
        #expect(refused.status == 401)
        images.release("ami-00000510")
        #expect(try await waitFor(store, slow.id, .running))
        // Terminate both: domains gone, files gone.
        _ = try await store.requestTask(.terminate, project: "lab", ids: [slow.id, fast.id])
        #expect(try await waitFor(store, slow.id, .terminated))
        #expect(try await waitFor(store, fast.id, .terminated))
        let domains = try await LibvirtHypervisor(uri: "test:///default").domains()
        #expect(!domains.contains(worker.domainName(slow.id)))
        #expect(!FileManager.default.fileExists(atPath: worker.directory(of: slow.id)))
        task.cancel()
        _ = try? await task.value
    }

    @Test func anImageThatCannotBeHadFailsTheLaunchAtOnce() async throws {
        let (store, worker, _, task) = try await setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        struct Missing: ImageSource {
            func sha256(of id: String) async throws -> String? { throw ImageCache.Unavailable(id: id, reason: "it is not in the registry") }
            func download(_ id: String, to path: String) async throws {}
        }
        _ = worker
        task.cancel()
        _ = try? await task.value
        var logger = Logger(label: "compute")
        logger.logLevel = .critical
        let other = try ComputeWorker(config: worker.config, store: store, hypervisor: try LibvirtHypervisor(uri: "test:///default"),
                                      images: Missing(), logger: logger)
        let run = Task { try await other.run() }
        let i = try await launch(store, image: "ami-0000dead", host: worker.config.host)
        #expect(try await waitFor(store, i.id, .error))
        let failed = try await store.instance(i.id)
        #expect(failed?.stateReason?.contains("not in the registry") == true, "\(failed?.stateReason ?? "")")
        run.cancel()
        _ = try? await run.value
    }

    @Test func instanceIDsAreCheckedBeforeTheyReachAPath() {
        #expect(ConsoleHandler.isInstanceID("i-0123456789abcdef0"))
        #expect(ConsoleHandler.isInstanceID("i-0000abcd"))
        for bad in ["i-../../etc", "i-", "x-01234567", "i-0123456789ABCDEF0", "i-0123456789abcdef01", "i-0123456"] {
            #expect(!ConsoleHandler.isInstanceID(bad), "\(bad)")
        }
        #expect(ComputeWorker.uuid(for: "i-1") == ComputeWorker.uuid(for: "i-1"))
        #expect(ComputeWorker.uuid(for: "i-1") != ComputeWorker.uuid(for: "i-2"))
        #expect(ComputeWorker.uuid(for: "i-1").count == 36)
    }
}

extension ComputeWorkerTests {
    @Test func stopStartAndRebootReachTheirStates() async throws {
        let (store, worker, images, task) = try await setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        images.release("aki-0000000k")
        images.release("ami-00000001")
        let i = try await launch(store, image: "ami-00000001", host: worker.config.host)
        #expect(try await waitFor(store, i.id, .running))
        let hypervisor = try LibvirtHypervisor(uri: "test:///default")
        _ = try await store.requestTask(.stop, project: "lab", ids: [i.id])
        #expect(try await waitFor(store, i.id, .stopped))
        #expect(try await hypervisor.state(worker.domainName(i.id)) == .shutOff)
        _ = try await store.requestTask(.start, project: "lab", ids: [i.id])
        #expect(try await waitFor(store, i.id, .running))
        #expect(try await hypervisor.state(worker.domainName(i.id)) == .running)
        _ = try await store.requestTask(.reboot, project: "lab", ids: [i.id])
        // A reboot keeps the state running: done once its task is gone.
        let deadline = Date().addingTimeInterval(20)
        while try await store.instance(i.id)?.task != nil, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let rebooted = try await store.instance(i.id)
        #expect(rebooted?.task == nil && rebooted?.state == .running)
        _ = try await store.requestTask(.terminate, project: "lab", ids: [i.id])
        #expect(try await waitFor(store, i.id, .terminated))
        task.cancel()
        _ = try? await task.value
    }
}
