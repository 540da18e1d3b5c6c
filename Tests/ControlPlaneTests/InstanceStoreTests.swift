@testable import ControlPlane
import Foundation
import NIOConcurrencyHelpers
import NimbusCore
import Testing

/// A clock the test moves.
final class TestClock: WallClock {
    private let time = NIOLockedValueBox<Double>(1_800_000_000)
    func now() -> Double { time.withLockedValue { $0 } }
    func advance(_ seconds: Double) { time.withLockedValue { $0 += seconds } }
}

/// Instances, the work queue between the API and compute workers, fixed addresses and leases.
@Suite struct InstanceStoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cpi-\(UUID().uuidString)").path

    func store(_ engine: TestEngine, clock: TestClock = TestClock(), lease: Int = 120) async throws -> ControlPlaneSQLStore {
        let s = try await engine.store(dir: dir, clock: clock, fixedLeaseSeconds: lease)
        _ = try await s.createUser("alice", admin: false)
        _ = try await s.createProject("lab", manager: "alice")
        return s
    }

    static func template(_ token: String? = nil) -> Instance {
        Instance(id: "", project: "lab", user: "alice", reservationID: "r-1", imageID: "ami-00000001", kernelID: "aki-00000001",
                 instanceType: "m1.tiny", vcpus: 1, memoryMiB: 512, diskGiB: 1, zone: "z", clientToken: token)
    }

    static func request(_ count: Int, token: String? = nil, range: [String] = (2...20).map { "10.0.0.\($0)" },
                        hosts: @escaping @Sendable ([ComputeHost]) -> [String]? = { h in h.first.map { [String](repeating: $0.name, count: 20) } })
    -> LaunchRequest {
        LaunchRequest(template: template(token), minCount: count, maxCount: count, fixedRange: range, reserved: ["10.0.0.1"], place: { h in
            guard let names = hosts(h), names.count >= count else { throw ControlPlaneError.insufficientCapacity("no room") }
            return Array(names.prefix(count))
        }, newID: { "i-" + String(UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(17)) })
    }

    func host(_ s: ControlPlaneSQLStore, _ name: String = "h1") async throws {
        try await s.reportHost(ComputeHost(name: name, zone: "z", vcpus: 8, memoryMiB: 4096, diskGiB: 100, heartbeat: 0), worker: "w")
    }

    @Test(arguments: TestEngine.available) func launchPlacesQueuesAndGivesDistinctAddresses(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        let made = try await s.launch(Self.request(3))
        #expect(made.map(\.fixedIP) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"])
        #expect(made.map(\.mac) == ["52:54:00:00:00:02", "52:54:00:00:00:03", "52:54:00:00:00:04"])
        #expect(made.allSatisfy { $0.task == .spawn && $0.state == .pending && $0.host == "h1" })
        #expect(made.map(\.launchIndex) == [0, 1, 2])
        let hosts = try await s.computeHosts()
        #expect(hosts.first?.usedMemoryMiB == 1536 && hosts.first?.instances == 3)
        #expect(try await s.instance(fixedIP: "10.0.0.3")?.id == made[1].id)
    }

    @Test(arguments: TestEngine.available) func aClientTokenAnswersTheFirstLaunchAgain(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        let first = try await s.launch(Self.request(2, token: "tok"))
        let again = try await s.launch(Self.request(2, token: "tok"))
        #expect(first.map(\.id) == again.map(\.id))
        #expect(try await s.instances(project: "lab").count == 2)
    }

    @Test(arguments: TestEngine.available) func noRoomLaunchesNothing(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        await #expect(throws: ControlPlaneError.self) { _ = try await s.launch(Self.request(1)) }  // no host at all
        try await host(s)
        // Two addresses for three instances: all or nothing.
        await #expect(throws: ControlPlaneError.insufficientCapacity("No fixed address is free for another instance.")) {
            _ = try await s.launch(Self.request(3, range: ["10.0.0.2", "10.0.0.3"]))
        }
        #expect(try await s.instances(project: "lab").isEmpty)
        #expect(try await s.fixedIPStandings().allSatisfy { $0.instanceID == nil })
    }

    @Test(arguments: TestEngine.available) func aReleasedAddressIsNotReusedWhileItsLeaseMayHold(_ engine: TestEngine) async throws {
        let clock = TestClock()
        let s = try await store(engine, clock: clock, lease: 120)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        let a = try #require(try await s.launch(Self.request(1)).first)
        #expect(a.fixedIP == "10.0.0.2")
        // The guest renewed its lease far ahead; dnsmasq's file says so.
        try await s.recordLeases([(ip: "10.0.0.2", expires: Int64((clock.now() + 600) * 1e6))])
        let claimed = try await s.claimWork(host: "h1", worker: "w1", limit: 10)
        try await #require(claimed.count == 1)
        #expect(try await s.finishWork(claimed[0], worker: "w1", state: .running, reason: nil))
        _ = try await s.requestTask(.terminate, project: "lab", ids: [a.id])
        let t = try await s.claimWork(host: "h1", worker: "w1", limit: 10)
        #expect(try await s.finishWork(t[0], worker: "w1", state: .terminated, reason: nil))
        // Gone, but the lease holds for 10 more minutes: the next instance gets another address.
        clock.advance(300)
        #expect(try await s.launch(Self.request(1)).first?.fixedIP == "10.0.0.3")
        clock.advance(301)
        #expect(try await s.launch(Self.request(1)).first?.fixedIP == "10.0.0.2")
    }

    @Test(arguments: TestEngine.available) func aNewerTaskWinsOverTheOneInProgress(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        let i = try #require(try await s.launch(Self.request(1)).first)
        let spawn = try await s.claimWork(host: "h1", worker: "w1", limit: 10)
        #expect(spawn.map(\.task) == [.spawn])
        #expect(try await s.claimWork(host: "h1", worker: "w2", limit: 10).isEmpty)  // claimed once only
        let changed = try await s.requestTask(.terminate, project: "lab", ids: [i.id])
        #expect(changed.first?.instance.state == .shuttingDown && changed.first?.previous == .pending)
        // The spawn finishes after the terminate was asked: the state stays shutting-down, the terminate is next.
        #expect(try await !s.finishWork(spawn[0], worker: "w1", state: .running, reason: nil))
        #expect(try await s.instance(i.id)?.state == .shuttingDown)
        let next = try await s.claimWork(host: "h1", worker: "w1", limit: 10)
        #expect(next.map(\.task) == [.terminate])
        #expect(try await s.finishWork(next[0], worker: "w1", state: .terminated, reason: nil))
        #expect(try await s.instance(i.id)?.state == .terminated)
        #expect(try await s.computeHosts().first?.instances == 0)
    }

    @Test(arguments: TestEngine.available) func requestsThatMakeNoSenseAreRefusedAndChangeNothing(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        let made = try await s.launch(Self.request(2))
        let work = try await s.claimWork(host: "h1", worker: "w", limit: 10)
        _ = try await s.finishWork(work[0], worker: "w", state: .running, reason: nil)
        // made[1] is still pending: rebooting both is refused as a whole.
        await #expect(throws: ControlPlaneError.self) { _ = try await s.requestTask(.reboot, project: "lab", ids: made.map(\.id)) }
        await #expect(throws: ControlPlaneError.notFound("instance i-nope")) { _ = try await s.requestTask(.stop, project: "lab", ids: ["i-nope"]) }
        await #expect(throws: ControlPlaneError.self) { _ = try await s.requestTask(.stop, project: "other", ids: [made[0].id]) }
        #expect(try await s.instance(made[0].id)?.task == nil)
    }

    @Test(arguments: TestEngine.available) func aRestartedWorkerRetriesWhatItsPredecessorClaimed(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        _ = try await s.launch(Self.request(1))
        #expect(try await s.claimWork(host: "h1", worker: "dead", limit: 10).count == 1)
        #expect(try await s.claimWork(host: "h1", worker: "new", limit: 10).isEmpty)
        try await s.releaseClaims(host: "h1")
        let retried = try await s.claimWork(host: "h1", worker: "new", limit: 10)
        #expect(retried.count == 1)
        #expect(try await s.attempts(retried[0].id) == 2)
    }

    @Test(arguments: TestEngine.available) func instancesOfASilentHostFailAndFreeTheirAddresses(_ engine: TestEngine) async throws {
        let clock = TestClock()
        let s = try await store(engine, clock: clock)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        let i = try #require(try await s.launch(Self.request(1)).first)
        #expect(try await s.failInstancesOfSilentHosts(silentFor: 60).isEmpty)
        clock.advance(61)
        #expect(try await s.failInstancesOfSilentHosts(silentFor: 60) == [i.id])
        let failed = try await s.instance(i.id)
        #expect(failed?.state == .error && failed?.stateReason?.contains("stopped reporting") == true)
        #expect(try await s.fixedIPStandings().first { $0.ip == "10.0.0.2" }?.instanceID == nil)
    }

    @Test(arguments: TestEngine.available) func floatingAddressesFollowTheirInstance(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        let i = try #require(try await s.launch(Self.request(1)).first)
        let a = try #require(try await s.allocateAddress(project: "lab", pool: ["203.0.113.5"]))
        try await s.associateAddress(project: "lab", ip: a.ip, instanceID: i.id)
        let pairs = try await s.floatingAssociations()
        #expect(pairs.map(\.publicIP) == ["203.0.113.5"] && pairs.map(\.fixedIP) == ["10.0.0.2"])
        await #expect(throws: ControlPlaneError.notFound("instance i-x")) { try await s.associateAddress(project: "lab", ip: a.ip, instanceID: "i-x") }
        // Terminated: the address stays allocated, no longer associated.
        _ = try await s.requestTask(.terminate, project: "lab", ids: [i.id])
        let t = try await s.claimWork(host: "h1", worker: "w", limit: 10)
        _ = try await s.finishWork(t[0], worker: "w", state: .terminated, reason: nil)
        #expect(try await s.floatingAssociations().isEmpty)
        #expect(try await s.addresses(project: "lab").first?.instanceID == nil)
    }

    /// Nova's "database is locked": twenty launches at once, each placed and addressed once.
    @Test(arguments: TestEngine.available) func twentyConcurrentLaunchesAllSucceedWithDistinctAddresses(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await host(s)
        let range = (2...40).map { "10.0.0.\($0)" }
        let ips = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<20 { group.addTask { try await s.launch(Self.request(1, range: range)).compactMap(\.fixedIP) } }
            var all: [String] = []
            for try await r in group { all += r }
            return all
        }
        #expect(ips.count == 20 && Set(ips).count == 20)
    }
}

extension InstanceStoreTests {
    /// Workers in other processes hear about new work through LISTEN/NOTIFY (PostgreSQL): a
    /// second engine on the same database stands for the other process.
    @Test func workIsAnnouncedToOtherProcessesOnPostgreSQL() async throws {
        guard TestEngine.available.contains(.postgres) else { return }
        let s = try await store(.postgres)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pg = try #require(s.engine as? PostgresEngine)
        let other = PostgresEngine(settings: pg.settings)
        // The listener starts with the first wait; give it a moment to connect.
        await other.waitForWork(since: other.workGeneration, timeout: 0.5)
        let generation = other.workGeneration
        let started = Date()
        async let woke: Void = other.waitForWork(since: generation, timeout: 20)
        try await Task.sleep(for: .milliseconds(200))
        await s.engine.notifyWork()
        await woke
        #expect(other.workGeneration > generation, "woken by the notification, not the 20 s timeout (\(Date().timeIntervalSince(started)) s)")
    }
}
