import Cluster
import Foundation
import NIOCore
import NimbusCore
import ObjectStore
import Ring
import Testing

/// A cluster whose nodes pack small objects into volumes: the Swift API, replication and the
/// auditor work on them as on one file per object.
@Suite(.serialized, .clusterWithVolumes) final class VolumeClusterTests {
    let h: ClusterHarness
    let account: String
    let auth: [(String, String)]

    init() async throws {
        (h, account, auth) = try await ClusterHarness.scopedLoggedIn()
        _ = try await h.request("PUT", "\(account)/vol", headers: auth)
    }

    func device(_ n: Int) -> String { "\(h.aio.devicesRoot(node: n))/\(AllInOne.deviceName(node: n, index: 0))" }

    func replicateAll(passes: Int = 2) async {
        for _ in 0..<passes { for node in h.aio.nodes { await node.replicateNow() } }
    }

    func body(_ i: Int) -> [UInt8] { Array("volume body \(i) ".utf8) + [UInt8](repeating: UInt8(i % 251), count: 700 + i) }

    func get(_ name: String) async throws -> [UInt8]? {
        let r = try await h.request("GET", "\(account)/vol/\(name)", headers: auth)
        return r.status == 200 ? Array(r.body.readableBytesView) : nil
    }

    /// The volume record of an object's `.data` on device `n`.
    func place(_ name: String, on n: Int) throws -> (path: String, offset: Int64, length: Int64)? {
        let hash = h.aio.state.hashPath.hash(account: "AUTH_test", container: "vol", object: name)
        let part = try RingSet.load(directory: h.aio.ringDirectory).object.partition(account: "AUTH_test", container: "vol", object: name)
        guard let store = VolumeStore.registered(device(n)),
              let data = store.names(partition: part, hash: hash).first(where: { $0.hasSuffix(".data") }) else { return nil }
        return store.place(partition: part, hash: hash, name: data)
    }

    @Test func smallObjectsLiveInVolumesAndBigOnesInFiles() async throws {
        #expect(try await h.request("PUT", "\(account)/vol/small", headers: auth, body: body(1)).status == 201)
        let big = [UInt8](repeating: 0x5A, count: 3 << 20)
        #expect(try await h.request("PUT", "\(account)/vol/big", headers: auth, body: big).status == 201)
        let holders = h.devicesHolding(account: "AUTH_test", container: "vol", object: "small")
        #expect(holders.count == 3)
        for n in holders { #expect(try place("small", on: n) != nil, "node \(n) keeps it in a volume") }
        for n in h.devicesHolding(account: "AUTH_test", container: "vol", object: "big") { #expect(try place("big", on: n) == nil) }
        #expect(try await get("small") == body(1))
        #expect(try await get("big") == big)
        #expect(try await h.request("POST", "\(account)/vol/small", headers: auth + [("X-Object-Meta-Tone", "low")]).status == 202)
        #expect(try await h.request("HEAD", "\(account)/vol/small", headers: auth).headers.first(name: "x-object-meta-tone") == "low")
        #expect(try await h.request("DELETE", "\(account)/vol/small", headers: auth).status == 204)
        #expect(try await get("small") == nil)
        let listing = try await h.request("GET", "\(account)/vol", headers: auth)
        #expect(String(buffer: listing.body) == "big\n")
    }

    @Test func replicationRestoresAWipedDeviceIntoItsVolumes() async throws {
        for i in 0..<20 { #expect(try await h.request("PUT", "\(account)/vol/o\(i)", headers: auth, body: body(i)).status == 201) }
        let victim = 1
        let before = (0..<20).filter { h.devicesHolding(account: "AUTH_test", container: "vol", object: "o\($0)").contains(victim) }
        #expect(!before.isEmpty)
        try FileManager.default.removeItem(atPath: "\(device(victim))/objects")
        try FileManager.default.removeItem(atPath: "\(device(victim))/volumes")
        try VolumeStore.open(devicePath: device(victim))  // the node's disk replaced, empty
        #expect(!h.devicesHolding(account: "AUTH_test", container: "vol", object: "o\(before[0])").contains(victim))
        await replicateAll()
        for i in 0..<20 {
            #expect(h.devicesHolding(account: "AUTH_test", container: "vol", object: "o\(i)").count == 3, "o\(i)")
        }
        for i in before { #expect(try place("o\(i)", on: victim) != nil, "o\(i) is back in a volume") }
        // The restored volumes survive a reopen (replay) as written.
        try VolumeStore.open(devicePath: device(victim))
        for i in before { #expect(try place("o\(i)", on: victim) != nil) }
        for i in 0..<20 { #expect(try await get("o\(i)") == body(i)) }
    }

    @Test func bitRotInAVolumeIsQuarantinedAndRepaired() async throws {
        #expect(try await h.request("PUT", "\(account)/vol/rot", headers: auth, body: body(7)).status == 201)
        let victim = h.devicesHolding(account: "AUTH_test", container: "vol", object: "rot")[0]
        let record = try #require(try place("rot", on: victim))
        let fd = open(record.path, O_RDWR)
        var byte: UInt8 = 0
        _ = pread(fd, &byte, 1, off_t(record.offset + 3))
        byte ^= 0xFF
        _ = pwrite(fd, &byte, 1, off_t(record.offset + 3))
        close(fd)
        let (checked, quarantined) = await h.aio.nodes[victim].auditNow()
        #expect(checked > 0 && quarantined == 1)
        #expect(!h.devicesHolding(account: "AUTH_test", container: "vol", object: "rot").contains(victim))
        await replicateAll()
        #expect(h.devicesHolding(account: "AUTH_test", container: "vol", object: "rot").contains(victim))
        #expect(try await get("rot") == body(7))
    }
}
