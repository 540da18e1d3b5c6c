import NimbusCore
import Ring
import Testing
@testable import Proxy

/// Which nodes a partition's requests go to, and in what order.
@Suite struct ReplicaPlanTests {
    /// One partition, 3 replicas on devices 0–2, devices 3–5 as handoffs.
    static let ring: Ring = {
        let devices = (0..<6).map { RingDevice(id: $0, zone: $0 + 1, ip: "127.0.0.1", port: 6000 + $0, device: "d\($0)", weight: 1) }
        return Ring(partPower: 0, replicas: 3, devices: devices, assignments: [[0], [1], [2]],
                    hashPath: HashPathConfig(prefix: "", suffix: "t"))
    }()

    @Test func aReadTriesThePrimariesThenAsManyHandoffsAsReplicasInTheRingsOrder() {
        let nodes = Array(ReplicaPlan(ring: Self.ring, partition: 0).readNodes).map(\.id)
        #expect(Array(nodes.prefix(3)) == [0, 1, 2])
        #expect(Array(nodes.dropFirst(3)) == Array(Self.ring.handoffs(partition: 0)).map(\.id))
        #expect(Set(nodes.dropFirst(3)) == [3, 4, 5])
    }

    @Test func failedSlotsTakeTheNextHandoffThatWorksEachHandoffOnce() async {
        var plan = ReplicaPlan(ring: Self.ring, partition: 0)
        let handoffs = Array(Self.ring.handoffs(partition: 0)).map(\.id)
        // Slot 1 failed; the first handoff refuses too, the second takes it.
        var results: [Int?] = [0, nil, 2]
        var tried: [Int] = []
        await plan.replaceFailures(&results, failed: { $0 == nil }) { slot, node in
            tried.append(node.id)
            return node.id == handoffs[0] ? nil : node.id
        }
        #expect(results == [0, handoffs[1], 2])
        #expect(tried == [handoffs[0], handoffs[1]])
        // The handoffs given out are not given again.
        #expect(plan.nextHandoff()?.id == handoffs[2])
    }

    @Test func nothingFailedTriesNoHandoff() async {
        var plan = ReplicaPlan(ring: Self.ring, partition: 0)
        var results: [Int?] = [0, 1, 2]
        var tried = 0
        await plan.replaceFailures(&results, failed: { $0 == nil }) { _, _ in
            tried += 1
            return nil
        }
        #expect(tried == 0)
        #expect(results == [0, 1, 2])
    }
}
