import Cluster
import Foundation
import NIOCore
import Ring
import Testing

/// The background work heals the cluster: replication restores lost and misplaced copies, the
/// auditor quarantines rot, the updater delivers missed container updates.
@Suite(.serialized, .cluster) final class DurabilityTests {
    let h: ClusterHarness
    let account: String
    let auth: [(String, String)]

    init() async throws {
        (h, account, auth) = try await ClusterHarness.scopedLoggedIn()
        _ = try await h.request("PUT", "\(account)/dur", headers: auth)
    }


    func device(_ n: Int) -> String { "\(h.aio.devicesRoot(node: n))/\(AllInOne.deviceName(node: n, index: 0))" }

    func replicateAll(passes: Int = 2) async {
        for _ in 0..<passes { for node in h.aio.nodes { await node.replicateNow() } }
    }

    func putObjects(_ count: Int, prefix: String) async throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for i in 0..<count {
            let body = Array("\(prefix) body \(i) ".utf8) + [UInt8](repeating: UInt8(i % 251), count: 1000 + i)
            #expect(try await h.request("PUT", "\(account)/dur/\(prefix)-\(i)", headers: auth, body: body).status == 201)
            out["\(prefix)-\(i)"] = body
        }
        return out
    }

    @Test func replicationRestoresAWipedDevice() async throws {
        let objects = try await putObjects(30, prefix: "wipe")
        let before = objects.keys.filter { h.devicesHolding(account: "AUTH_test", container: "dur", object: $0).contains(1) }
        #expect(!before.isEmpty)
        try FileManager.default.removeItem(atPath: "\(device(1))/objects")
        try? FileManager.default.removeItem(atPath: "\(device(1))/containers")
        await replicateAll()
        for (name, _) in objects {
            #expect(h.devicesHolding(account: "AUTH_test", container: "dur", object: name).count == 3, "\(name)")
        }
        // Every container replica lists every object again.
        let ring = try RingSet.load(directory: h.aio.ringDirectory).container
        let (part, nodes) = ring.nodes(account: "AUTH_test", container: "dur")
        for node in nodes {
            let r = try await h.client.request(host: node.ip, port: node.port, method: "GET", uri: "/\(node.device)/\(part)/AUTH_test/dur",
                                               headers: [:], timeout: .seconds(10))
            #expect(Set(String(buffer: r.body).split(separator: "\n").map(String.init)).isSuperset(of: objects.keys), "\(node.address)")
        }
        for (name, body) in objects {
            #expect(Array(try await h.request("GET", "\(account)/dur/\(name)", headers: auth).body.readableBytesView) == body)
        }
    }

    @Test func misplacedCopyMovesToItsPrimaryAndLeavesTheHandoff() async throws {
        let objects = try await putObjects(1, prefix: "handoff")
        let name = objects.keys.first!
        let holders = h.devicesHolding(account: "AUTH_test", container: "dur", object: name)
        let spare = (0..<4).first { !holders.contains($0) }!
        let from = holders[0]
        // Move the primary's copy to the device that is not a primary (as a write through a handoff leaves it).
        let hash = h.aio.state.hashPath.hash(account: "AUTH_test", container: "dur", object: name)
        let part = try RingSet.load(directory: h.aio.ringDirectory).object.partition(account: "AUTH_test", container: "dur", object: name)
        let src = "\(device(from))/objects/\(part)/\(hash.suffix(3))/\(hash)"
        let dstDir = "\(device(spare))/objects/\(part)/\(hash.suffix(3))"
        try FileManager.default.createDirectory(atPath: dstDir, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: src, toPath: "\(dstDir)/\(hash)")
        // Both suffix hash caches must notice the manual move.
        unlink("\(device(from))/objects/\(part)/hashes.json")
        #expect(Set(h.devicesHolding(account: "AUTH_test", container: "dur", object: name)) == Set(holders.filter { $0 != from } + [spare]))
        await replicateAll()
        #expect(Set(h.devicesHolding(account: "AUTH_test", container: "dur", object: name)) == Set(holders))
        #expect(!FileManager.default.fileExists(atPath: "\(device(spare))/objects/\(part)"))
    }

    @Test func bitRotIsQuarantinedByTheAuditorAndRepairedByReplication() async throws {
        let objects = try await putObjects(1, prefix: "rot")
        let name = objects.keys.first!
        let victim = h.devicesHolding(account: "AUTH_test", container: "dur", object: name)[0]
        let hash = h.aio.state.hashPath.hash(account: "AUTH_test", container: "dur", object: name)
        let data = try FileManager.default.subpathsOfDirectory(atPath: "\(device(victim))/objects").first {
            $0.contains(hash) && $0.hasSuffix(".data")
        }!
        let path = "\(device(victim))/objects/\(data)"
        let fh = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try fh.seek(toOffset: 3)
        try fh.write(contentsOf: Data([0x42 ^ 0xFF]))
        try fh.close()
        let (checked, quarantined) = await h.aio.nodes[victim].auditNow()
        #expect(checked > 0 && quarantined == 1)
        #expect(!h.devicesHolding(account: "AUTH_test", container: "dur", object: name).contains(victim))
        await replicateAll()
        #expect(h.devicesHolding(account: "AUTH_test", container: "dur", object: name).contains(victim))
        #expect(Array(try await h.request("GET", "\(account)/dur/\(name)", headers: auth).body.readableBytesView) == objects[name])
    }

    /// Flips a byte of the object's `.data` file on device `n`.
    func rot(_ name: String, on n: Int) throws {
        let hash = h.aio.state.hashPath.hash(account: "AUTH_test", container: "dur", object: name)
        let data = try #require(try FileManager.default.subpathsOfDirectory(atPath: "\(device(n))/objects").first {
            $0.contains(hash) && $0.hasSuffix(".data")
        })
        let fh = try FileHandle(forUpdating: URL(fileURLWithPath: "\(device(n))/objects/\(data)"))
        try fh.seek(toOffset: 3)
        try fh.write(contentsOf: Data([0x42 ^ 0xFF]))
        try fh.close()
    }

    @Test func aRottenSmallCopyIsRefusedBeforeAnyByteAndTheReadGoesToAGoodOne() async throws {
        let objects = try await putObjects(1, prefix: "smallrot")
        let name = try #require(objects.keys.first)
        let holders = h.devicesHolding(account: "AUTH_test", container: "dur", object: name)
        #expect(holders.count == 3)
        for n in holders.dropLast() { try rot(name, on: n) }
        // Asked directly, a rotten copy's server answers 404 (not a 200 it then cuts) and
        // quarantines the copy.
        let ring = try RingSet.load(directory: h.aio.ringDirectory).object
        let part = ring.partition(account: "AUTH_test", container: "dur", object: name)
        let direct = try await h.client.request(host: "127.0.0.1", port: h.aio.state.nodePorts[holders[0]], method: "GET",
                                                uri: "/\(AllInOne.deviceName(node: holders[0], index: 0))/\(part)/AUTH_test/dur/\(name)",
                                                headers: [:], timeout: .seconds(10))
        #expect(direct.status == 404)
        #expect(!h.devicesHolding(account: "AUTH_test", container: "dur", object: name).contains(holders[0]))
        // Through the proxy the client gets the right bytes, whichever replica it asks first.
        for _ in 0..<3 {
            let r = try await h.request("GET", "\(account)/dur/\(name)", headers: auth)
            #expect(r.status == 200)
            #expect(Array(r.body.readableBytesView) == objects[name])
        }
        #expect(Set(h.devicesHolding(account: "AUTH_test", container: "dur", object: name)).isSubset(of: [holders[1], holders[2]]))
    }

    @Test func missedContainerUpdatesAreDeliveredByTheUpdater() async throws {
        // Hide the container DB on every replica: object PUTs succeed (the proxy has the container
        // cached) but their listing updates fail.
        #expect(try await h.request("PUT", "\(account)/dur/warm", headers: auth, body: [1]).status == 201)
        let ring = try RingSet.load(directory: h.aio.ringDirectory).container
        let (part, _) = ring.nodes(account: "AUTH_test", container: "dur")
        let chash = h.aio.state.hashPath.hash(account: "AUTH_test", container: "dur")
        var hidden: [(String, String)] = []
        for n in 0..<4 {
            let dir = "\(device(n))/containers/\(part)/\(chash.suffix(3))/\(chash)"
            if FileManager.default.fileExists(atPath: dir) {
                try FileManager.default.moveItem(atPath: dir, toPath: dir + ".away")
                hidden.append((dir + ".away", dir))
            }
        }
        #expect(hidden.count == 3)
        let objects = try await putObjects(10, prefix: "late")
        for (away, dir) in hidden { try FileManager.default.moveItem(atPath: away, toPath: dir) }
        var pending = 0
        for node in h.aio.nodes { pending += await node.updateNow().remaining }
        #expect(pending == 0)
        let listing = try await h.request("GET", "\(account)/dur?prefix=late-", headers: auth)
        #expect(Set(String(buffer: listing.body).split(separator: "\n").map(String.init)) == Set(objects.keys))
    }
}
