import Cluster
import Foundation
import NIOCore
import Ring
import Testing

@Suite(.serialized, .cluster) struct ReplicationPlacementTests {
    @Test func everyObjectLandsOnExactlyThreeOfFourDevices() async throws {
        let h = try ClusterHarness.scoped()
        let (token, account) = try await h.login()
        let auth = [("X-Auth-Token", token)]
        #expect(try await h.request("PUT", "\(account)/placement", headers: auth).status == 201)
        for i in 0..<24 {
            let r = try await h.request("PUT", "\(account)/placement/obj-\(i)", headers: auth, body: Array("data \(i)".utf8))
            #expect(r.status == 201)
        }
        for i in 0..<24 {
            let holders = h.devicesHolding(account: "AUTH_test", container: "placement", object: "obj-\(i)")
            #expect(holders.count == 3, "obj-\(i) is on \(holders)")
        }
    }

    @Test func putAndGetSucceedWithOnePrimaryNodeDown() async throws {
        let h = try ClusterHarness.scoped()
        let (token, account) = try await h.login()
        let auth = [("X-Auth-Token", token)]
        #expect(try await h.request("PUT", "\(account)/down", headers: auth).status == 201)
        // Pick an object whose primaries include node 0, then stop node 0.
        let ring = try RingSet.load(directory: h.aio.ringDirectory).object
        let downPort = h.aio.nodes[0].port
        let candidates: [String] = (0..<1000).map { (i: Int) -> String in "victim-\(i)" }.filter { (n: String) -> Bool in
            ring.nodes(account: "AUTH_test", container: "down", object: n).primaries.contains { $0.port == downPort }
        }
        guard let name = candidates.first else {
            Issue.record("no object name maps to node 0")
            return
        }
        h.aio.nodes[0].close()
        try await Task.sleep(for: .milliseconds(100))
        let body = Array(repeating: UInt8(7), count: 100_000)
        let put = try await h.request("PUT", "\(account)/down/\(name)", headers: auth, body: body)
        #expect(put.status == 201)
        let holders = h.devicesHolding(account: "AUTH_test", container: "down", object: name)
        #expect(holders.count == 3 && !holders.contains(0), "written to \(holders)")
        let get = try await h.request("GET", "\(account)/down/\(name)", headers: auth)
        #expect(get.status == 200)
        #expect(Array(get.body.readableBytesView) == body)
    }
}
