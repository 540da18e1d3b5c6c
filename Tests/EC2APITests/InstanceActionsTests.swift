import ControlPlane
import EC2API
import Foundation
import Logging
import Testing

/// The instance actions over HTTP with a compute host reported in the store (no worker: the
/// API only records, so states stay where the API puts them).
@Suite struct InstanceActionsTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ec2i-\(UUID().uuidString)").path

    func cloud(memoryMiB: Int = 2048) async throws -> (EC2APITests.Cloud, ControlPlaneSQLStore) {
        let store = try ControlPlaneSQLStore.sqlite(path: "\(dir)/control.db", keyFile: "\(dir)/control.key")
        try await store.migrate()
        _ = try await store.createUser("soren", admin: false)
        _ = try await store.createProject("lab", manager: "soren")
        _ = try await store.createUser("vish", admin: false)
        _ = try await store.createProject("other", manager: "vish")
        let credential = try await store.credentials(user: "soren", project: "lab")
        for (id, type, state) in [("aki-0000000a", "kernel", ImageRecord.State.available), ("ami-0000000b", "machine", .available),
                                  ("ami-0000000c", "machine", .pending)] {
            try await store.addImage(ImageRecord(id: id, project: "lab", location: "b/\(id).manifest.xml", name: id, imageType: type,
                                                 architecture: "x86_64", kernelID: type == "machine" ? "aki-0000000a" : nil))
            if state == .available { try await store.setImageState(id, .available, reason: nil, size: 1) }
        }
        try await store.reportHost(ComputeHost(name: "h1", zone: "nimbus-1a", vcpus: 16, memoryMiB: memoryMiB, diskGiB: 100, heartbeat: 0), worker: "w")
        var logger = Logger(label: "ec2")
        logger.logLevel = .critical
        var settings = EC2Settings(region: "nimbus", zones: ["nimbus-1a"], floatingPool: EC2Settings.addresses(inCIDR: "198.51.100.0/29") ?? [])
        settings.compute = ComputeSettings(fixedRange: (2...30).map { "10.9.0.\($0)" }, reserved: ["10.9.0.1"])
        let server = try await EC2APIServer.start(host: "127.0.0.1", port: 0, store: store, settings: settings, logger: logger)
        return (EC2APITests.Cloud(server: server, task: Task { try? await server.run() }, credential: credential), store)
    }

    static func value(_ body: String, _ element: String) -> String? {
        guard let start = body.range(of: "<\(element)>"), let end = body.range(of: "</\(element)>", range: start.upperBound..<body.endIndex) else { return nil }
        return String(body[start.upperBound..<end.lowerBound])
    }

    @Test func runDescribeAndTerminateSpeakEC2() async throws {
        let (c, store) = try await cloud()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func call(_ form: String) async throws -> (Int, String) { try await c.call(form + "&Version=2016-11-15") }
        _ = try await call("Action=CreateKeyPair&KeyName=k")
        let (status, run) = try await call("Action=RunInstances&ImageId=ami-0000000b&MinCount=2&MaxCount=2&KeyName=k&InstanceType=m1.tiny&ClientToken=t1")
        #expect(status == 200, "\(run)")
        #expect(run.contains("<instanceState><code>0</code><name>pending</name></instanceState>"))
        #expect(run.contains("<instanceType>m1.tiny</instanceType>") && run.contains("<keyName>k</keyName>"))
        #expect(run.contains("<kernelId>aki-0000000a</kernelId>") && run.contains("<groupName>default</groupName>"))
        #expect(run.components(separatedBy: "<amiLaunchIndex>").count == 3)
        // The same ClientToken answers the same instances.
        let (_, again) = try await call("Action=RunInstances&ImageId=ami-0000000b&MinCount=2&MaxCount=2&KeyName=k&InstanceType=m1.tiny&ClientToken=t1")
        #expect(Self.value(again, "reservationId") == Self.value(run, "reservationId"))
        let id = try #require(Self.value(run, "instanceId"))
        let (_, described) = try await call("Action=DescribeInstances&InstanceId.1=\(id)")
        #expect(described.contains("<privateIpAddress>10.9.0.2</privateIpAddress>"))
        let (_, filtered) = try await call("Action=DescribeInstances&Filter.1.Name=instance-state-name&Filter.1.Value.1=running")
        #expect(!filtered.contains("<instanceId>"))
        let (ts, terminated) = try await call("Action=TerminateInstances&InstanceId.1=\(id)")
        #expect(ts == 200)
        #expect(terminated.contains("<currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>0</code><name>pending</name></previousState>"))
        // The worker's side, as it would report: terminated.
        let work = try await store.claimWork(host: "h1", worker: "w", limit: 10).filter { $0.id == id }
        _ = try await store.finishWork(work[0], worker: "w", state: .terminated, reason: nil)
        let (_, gone) = try await call("Action=DescribeInstances&InstanceId.1=\(id)")
        #expect(gone.contains("<code>48</code><name>terminated</name>"))
        // Another project sees none of them.
        let vish = try await store.credentials(user: "vish", project: "other")
        let (_, theirs) = try await c.call("Action=DescribeInstances&Version=2016-11-15", secret: vish.secretKey, accessKey: vish.accessKey)
        #expect(!theirs.contains("<instanceId>"))
        let (nf, _) = try await c.call("Action=TerminateInstances&Version=2016-11-15&InstanceId.1=\(id)", secret: vish.secretKey, accessKey: vish.accessKey)
        #expect(nf == 400)
        await c.stop()
    }

    @Test func badLaunchesGetTheErrorsEC2UsersKnow() async throws {
        let (c, store) = try await cloud(memoryMiB: 1024)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func code(_ form: String) async throws -> String? {
            let (status, body) = try await c.call(form + "&Version=2016-11-15")
            return status == 200 ? nil : Self.value(body, "Code")
        }
        #expect(try await code("Action=RunInstances&ImageId=ami-7fffffff") == "InvalidAMIID.NotFound")
        #expect(try await code("Action=RunInstances&ImageId=bogus") == "InvalidAMIID.Malformed")
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000c") == "InvalidAMIID.Unavailable")
        #expect(try await code("Action=RunInstances&ImageId=aki-0000000a") == "InvalidParameterValue")
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000b&InstanceType=t9.huge") == "InvalidParameterValue")
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000b&KeyName=nope") == "InvalidKeyPair.NotFound")
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000b&SecurityGroup.1=nope") == "InvalidGroup.NotFound")
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000b&UserData=%%%") == "InvalidParameterValue")
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000b&MinCount=3&MaxCount=2") == "InvalidParameterValue")
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000b&Placement.AvailabilityZone=mars") == "InvalidParameterValue")
        // A type no host can hold (m1.small: 2048 MiB on a 1024 MiB host), and more than fits.
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000b") == "InsufficientInstanceCapacity")
        #expect(try await code("Action=RunInstances&ImageId=ami-0000000b&InstanceType=m1.tiny&MinCount=3&MaxCount=3") == "InsufficientInstanceCapacity")
        // MaxCount beyond room: as many as fit.
        let (_, some) = try await c.call("Action=RunInstances&Version=2016-11-15&ImageId=ami-0000000b&InstanceType=m1.tiny&MinCount=1&MaxCount=5")
        #expect(some.components(separatedBy: "<amiLaunchIndex>").count == 3)
        #expect(try await store.instances(project: "lab").count == 2)
        #expect(try await code("Action=RebootInstances&InstanceId.1=i-0123456789abcdef0") == "InvalidInstanceID.NotFound")
        #expect(try await code("Action=RebootInstances&InstanceId.1=../etc") == "InvalidInstanceID.Malformed")
        let pending = try #require(try await store.instances(project: "lab").first)
        #expect(try await code("Action=RebootInstances&InstanceId.1=\(pending.id)") == "IncorrectInstanceState")
        #expect(try await code("Action=StartInstances&InstanceId.1=\(pending.id)") == nil)
        await c.stop()
    }
}

extension InstanceActionsTests {
    /// Nova's "database is locked": twenty RunInstances at once on SQLite each get an instance
    /// or InsufficientInstanceCapacity — never a 500.
    @Test func twentyRunInstancesAtOnceOnSQLite() async throws {
        let (c, store) = try await cloud(memoryMiB: 8192)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for _ in 0..<20 {
                group.addTask { try await c.call("Action=RunInstances&Version=2016-11-15&ImageId=ami-0000000b&InstanceType=m1.tiny") }
            }
            var out: [(Int, String)] = []
            for try await r in group { out.append(r) }
            return out
        }
        let ok = results.filter { $0.0 == 200 }.count
        let full = results.filter { $0.0 == 400 && Self.value($0.1, "Code") == "InsufficientInstanceCapacity" }.count
        #expect(ok == 16 && full == 4, "\(results.filter { $0.0 != 200 }.map(\.1))")
        let ips = try await store.instances(project: "lab").compactMap(\.fixedIP)
        #expect(ips.count == 16 && Set(ips).count == 16)
        await c.stop()
    }
}
