import CloudNetwork
import Testing

@Suite struct FixedAddressTests {
    /// Nova compared lease times as strings of different formats: "999" sorts after "1000".
    @Test func leaseTimesCompareAsTimesNotStrings() {
        let leases = DnsmasqLease.parse("""
            999 52:54:00:00:00:05 10.0.0.5 i-1 *
            1000 52:54:00:00:00:06 10.0.0.6 i-2 01:52:54:00:00:00:06
            0 52:54:00:00:00:07 10.0.0.7 i-3 *
            duid 00:01:00:01
            garbage line
            """)
        #expect(leases.map(\.ip) == ["10.0.0.5", "10.0.0.6", "10.0.0.7"])
        #expect(!leases[0].isActive(at: 999.5) && leases[1].isActive(at: 999.5) && leases[2].isActive(at: 1e12))
    }

    // Which address an instance may take (instance gone and lease expired) is the store's:
    // InstanceStoreTests.aReleasedAddressIsNotReusedWhileItsLeaseMayHold.

    @Test func hostsFileIsSortedByAddress() throws {
        let mac = "52:54:00:00:01:11"
        #expect(try #require(IPv4Network("10.0.0.0/29")).hosts.map(\.description) == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"])
        let text = DnsmasqHosts.render([.init(mac: mac, ip: "10.0.1.17", hostname: "i-2"), .init(mac: "52:54:00:00:01:02", ip: "10.0.1.2", hostname: "i-1")],
                                       leaseSeconds: 120)
        #expect(text == "52:54:00:00:01:02,10.0.1.2,i-1,120\n52:54:00:00:01:11,10.0.1.17,i-2,120\n")
    }

    @Test func addressesParseStrictly() {
        for bad in ["10.0.0", "10.0.0.256", "010.0.0.1", "a.b.c.d", "10.0.0.1 ", "", "1..2.3"] { #expect(IPv4Address(bad) == nil, "\(bad)") }
        for bad in ["10.0.0.1/24", "10.0.0.0/33", "10.0.0.0", "10.0.0.0/-1", "10.0.0.0/ 8"] { #expect(IPv4Network(bad) == nil, "\(bad)") }
        #expect(IPv4Network("0.0.0.0/0") != nil && IPv4Network("10.0.0.0/8")?.hosts.isEmpty == true)
    }
}

@Suite struct FirewallPlanTests {
    func plan() throws -> FirewallPlan {
        var p = try FirewallPlan(prefix: "nt1")
        p.gateway = IPv4Address("10.0.0.1")
        p.instances = [
            .init(id: "i-b", fixedIP: try #require(IPv4Address("10.0.0.3")), rules: []),
            .init(id: "i-a", fixedIP: try #require(IPv4Address("10.0.0.2")), rules: [
                .init(ipProtocol: "tcp", fromPort: 22, toPort: 22, sources: ["0.0.0.0/0"]),
                .init(ipProtocol: "icmp", fromPort: 8, toPort: -1, sources: ["10.0.0.3/32"]),
                .init(ipProtocol: "-1", fromPort: -1, toPort: -1, sources: ["192.168.0.0/16"]),
            ]),
        ]
        p.floating = [(try #require(IPv4Address("203.0.113.5")), try #require(IPv4Address("10.0.0.2")))]
        return p
    }

    @Test func inboundIsDeniedUnlessAGroupRuleAllowsIt() throws {
        let p = try plan()
        let a = p.chain(for: "i-a"), b = p.chain(for: "i-b")
        #expect(a.count <= 28 && a.hasPrefix("nt1-i"))
        let text = try p.filterTable()
        #expect(text == """
            *filter
            :nt1-fwd - [0:0]
            :\(a) - [0:0]
            :\(b) - [0:0]
            -A nt1-fwd -d 10.0.0.2/32 -j \(a)
            -A nt1-fwd -d 10.0.0.3/32 -j \(b)
            -A \(a) -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
            -A \(a) -s 10.0.0.1/32 -p udp --sport 67 --dport 68 -j ACCEPT
            -A \(a) -s 0.0.0.0/0 -p tcp --dport 22:22 -j ACCEPT
            -A \(a) -s 10.0.0.3/32 -p icmp --icmp-type 8 -j ACCEPT
            -A \(a) -s 192.168.0.0/16 -j ACCEPT
            -A \(a) -j DROP
            -A \(b) -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
            -A \(b) -s 10.0.0.1/32 -p udp --sport 67 --dport 68 -j ACCEPT
            -A \(b) -j DROP
            COMMIT

            """)
    }

    @Test func floatingAddressesAreReachableFromOutsideAndFromTheHost() throws {
        #expect(try plan().natTable() == """
            *nat
            :nt1-pre - [0:0]
            :nt1-out - [0:0]
            :nt1-post - [0:0]
            -A nt1-pre -d 203.0.113.5/32 -j DNAT --to-destination 10.0.0.2
            -A nt1-out -d 203.0.113.5/32 -j DNAT --to-destination 10.0.0.2
            -A nt1-post -s 10.0.0.2/32 -j SNAT --to-source 203.0.113.5
            COMMIT

            """)
    }

    @Test func staleChainsAreRemovedAndBadInputRefused() throws {
        var p = try plan()
        p.staleChains = ["nt1-iabc", "other-ixyz"]
        let text = try p.filterTable()
        #expect(text.contains(":nt1-iabc - [0:0]\n") && text.contains("-X nt1-iabc\n") && !text.contains("other-ixyz"))
        #expect(throws: FirewallPlan.PlanError.self) { _ = try FirewallPlan(prefix: "UPPER") }
        #expect(throws: FirewallPlan.PlanError.self) { _ = try FirewallPlan(prefix: "far-too-long-prefix") }
        p.instances[0].rules = [.init(ipProtocol: "tcp", fromPort: 80, toPort: 22, sources: ["0.0.0.0/0"])]
        #expect(throws: FirewallPlan.PlanError.self) { _ = try p.filterTable() }
        p.instances[0].rules = [.init(ipProtocol: "tcp", fromPort: 22, toPort: 22, sources: ["0.0.0.0/0 -j ACCEPT; rm"])]
        #expect(throws: FirewallPlan.PlanError.self) { _ = try p.filterTable() }
    }
}

@Suite struct FirewallMetadataTests {
    @Test func theMetadataAddressIsDNATedToTheServiceOnTheBridge() throws {
        var plan = try FirewallPlan(prefix: "t1")
        plan.metadata = (try #require(IPv4Address("10.77.0.1")), 8775)
        plan.floating = [(try #require(IPv4Address("198.51.100.1")), try #require(IPv4Address("10.77.0.2")))]
        let nat = plan.natTable()
        #expect(nat.contains("-A t1-pre -d 169.254.169.254/32 -p tcp --dport 80 -j DNAT --to-destination 10.77.0.1:8775\n"))
        #expect(nat.contains("-A t1-out -d 198.51.100.1/32 -j DNAT --to-destination 10.77.0.2\n"))
        #expect(IPv4Network("10.77.0.0/24")?.netmask.description == "255.255.255.0")
        #expect(IPv4Network("10.77.0.0/24")?.contains(try #require(IPv4Address("10.77.0.9"))) == true)
        #expect(IPv4Network("10.77.0.0/24")?.contains(try #require(IPv4Address("10.78.0.9"))) == false)
    }

    @Test func settingsRefuseNetworksThatCannotServe() {
        for bad in ["10.0.0.0/8", "10.0.0.0/30", "10.0.0.1/24", "nonsense"] {
            #expect(throws: NetworkError.self) { _ = try NetworkWorkerSettings.network(bad) }
        }
        #expect((try? NetworkWorkerSettings.network("10.77.0.0/24"))?.gateway.description == "10.77.0.1")
    }
}
