import Compute
import Testing

@Suite struct SchedulerTests {
    static let tiny = Flavor.classics[0]
    func host(_ name: String, _ memory: Int, zone: String = "a", instances: Int = 0, heartbeat: Double = 1000) -> HostReport {
        HostReport(name: name, zone: zone, freeMemoryMiB: memory, freeVCPUs: 8, freeDiskGiB: 100, instances: instances, heartbeat: heartbeat)
    }

    @Test func instancesSpreadOverTheLeastLoadedHosts() throws {
        let hosts = [host("h1", 2048), host("h2", 1536), host("h3", 4096, zone: "b")]
        #expect(try Scheduler.place(Self.tiny, minCount: 1, maxCount: 4, zone: "a", hosts: hosts, now: 1000)
            == ["h1", "h2", "h1", "h2"])
        #expect(try Scheduler.place(Self.tiny, minCount: 1, maxCount: 1, zone: nil, hosts: hosts, now: 1000) == ["h3"])
    }

    @Test func silentHostsAndFullHostsGetNothing() throws {
        let hosts = [host("dead", 8192, heartbeat: 100), host("small", 256)]
        #expect(throws: Scheduler.NoCapacity(placed: 0, wanted: 1)) {
            _ = try Scheduler.place(Self.tiny, minCount: 1, maxCount: 1, zone: nil, hosts: hosts, now: 1000)
        }
        let two = [host("h1", 1024)]
        #expect(try Scheduler.place(Self.tiny, minCount: 1, maxCount: 5, zone: nil, hosts: two, now: 1000) == ["h1", "h1"])
        #expect(throws: Scheduler.NoCapacity(placed: 2, wanted: 3)) {
            _ = try Scheduler.place(Self.tiny, minCount: 3, maxCount: 5, zone: nil, hosts: two, now: 1000)
        }
    }
}
