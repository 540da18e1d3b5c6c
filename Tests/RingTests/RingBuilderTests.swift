import Foundation
import Testing
import NimbusCore
@testable import Ring

@Suite struct RingBuilderTests {
    let secrets = HashPathConfig(prefix: "p", suffix: "s")

    func fourZoneBuilder(partPower: Int = 8) throws -> RingBuilder {
        var b = try RingBuilder(partPower: partPower, replicas: 3, minPartHours: 0, hashPath: secrets)
        for i in 0..<4 {
            try b.add(RingDevice(id: -1, zone: i + 1, ip: "127.0.0.1", port: 6000 + i, device: "d\(i)", weight: 100))
        }
        return b
    }

    @Test func everyPartitionHasReplicasOnDistinctDevicesAndZones() throws {
        var b = try fourZoneBuilder()
        try b.rebalance()
        let ring = try b.ring()
        for p in 0..<ring.partitionCount {
            let nodes = ring.primaries(partition: p)
            #expect(nodes.count == 3)
            #expect(Set(nodes.map(\.id)).count == 3)
            #expect(Set(nodes.map(\.zone)).count == 3)
        }
    }

    @Test func sharesFollowWeights() throws {
        var b = try RingBuilder(partPower: 10, replicas: 1, minPartHours: 0, hashPath: secrets)
        try b.add(RingDevice(id: -1, zone: 1, ip: "h", port: 1, device: "a", weight: 100))
        try b.add(RingDevice(id: -1, zone: 2, ip: "h", port: 1, device: "b", weight: 300))
        let report = try b.rebalance()
        let ring = try b.ring()
        let onB = ring.assignments[0].filter { $0 == 1 }.count
        #expect(onB == 768)
        #expect(report.balance < 1)
    }

    @Test func addingADeviceMovesAboutTheIdealShare() throws {
        var b = try fourZoneBuilder(partPower: 10)
        try b.rebalance()
        let before = try b.ring()
        try b.add(RingDevice(id: -1, zone: 5, ip: "127.0.0.1", port: 6010, device: "d4", weight: 100))
        let report = try b.rebalance()
        let after = try b.ring()
        var moved = 0
        for r in 0..<3 { for p in 0..<after.partitionCount where before.assignments[r][p] != after.assignments[r][p] { moved += 1 } }
        let ideal = Double(3 * 1024) / 5
        #expect(Double(moved) <= 2 * ideal)
        #expect(moved == report.moved)
        for p in 0..<after.partitionCount {
            #expect(Set(after.primaries(partition: p).map(\.zone)).count == 3)
        }
    }

    @Test func rebalanceWithoutChangesMovesNothing() throws {
        var b = try fourZoneBuilder()
        try b.rebalance()
        let report = try b.rebalance()
        #expect(report.moved == 0)
    }

    @Test func removedDeviceLosesAllPartitionsEvenWithinMinPartHours() throws {
        var b = try fourZoneBuilder()
        b.minPartHours = 24
        try b.add(RingDevice(id: -1, zone: 5, ip: "h", port: 1, device: "x", weight: 100))
        try b.rebalance()
        try b.remove(id: 4)
        try b.rebalance()
        let ring = try b.ring()
        #expect(!ring.assignments.contains { $0.contains(4) })
    }

    @Test func minPartHoursLimitsMovesAfterAWeightChange() throws {
        var b = try fourZoneBuilder()
        b.minPartHours = 1
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        try b.rebalance(now: t0)
        try b.setWeight(id: 0, weight: 10)
        #expect(try b.rebalance(now: t0).moved == 0)
        #expect(try b.rebalance(now: t0.addingTimeInterval(7200)).moved > 0)
    }

    @Test func tooFewDevicesForReplicasIsAnError() throws {
        var b = try RingBuilder(partPower: 4, replicas: 3, minPartHours: 0, hashPath: secrets)
        try b.add(RingDevice(id: -1, zone: 1, ip: "h", port: 1, device: "a", weight: 1))
        #expect(throws: RingError.self) { try b.rebalance() }
    }

    @Test func ringFileRoundTrips() throws {
        var b = try fourZoneBuilder()
        try b.rebalance()
        let ring = try b.ring()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ring-\(UUID()).ring.json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ring.save(to: path)
        #expect(try Ring.load(from: path) == ring)
    }

    @Test func partitionMatchesSwiftsTopBitsOfPathHash() throws {
        var b = try fourZoneBuilder(partPower: 8)
        try b.rebalance()
        let ring = try b.ring()
        let d = secrets.digest(account: "AUTH_test", container: "c", object: "o")
        #expect(ring.partition(account: "AUTH_test", container: "c", object: "o") == Int(d[0]))
    }

    @Test func handoffsExcludePrimariesAndCoverOtherDevices() throws {
        var b = try fourZoneBuilder()
        try b.rebalance()
        let ring = try b.ring()
        let primaries = Set(ring.primaries(partition: 7).map(\.id))
        let handoffs = Array(ring.handoffs(partition: 7))
        #expect(handoffs.count == 1)
        #expect(!primaries.contains(handoffs[0].id))
    }
}
