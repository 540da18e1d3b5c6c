import Digest

/// Security groups and floating addresses as iptables rules, rendered for one
/// `iptables-restore --noflush` per table: every chain of ours is declared (so flushed and
/// rebuilt in one atomic commit) and nothing outside our prefix is touched. Inbound traffic to
/// an instance is denied unless a rule of its groups allows it; floating addresses are DNAT'd
/// on arrival **and** from the host itself (OUTPUT), and SNAT'd on the way out.
public struct FirewallPlan: Sendable {
    /// One allowed inbound flow: protocol (`tcp`, `udp`, `icmp`, `-1` for all), ports (ICMP: type
    /// and code; -1 for any) and the source networks (CIDRs, and source groups expanded to
    /// their members' addresses).
    public struct Rule: Sendable, Equatable {
        public var ipProtocol: String
        public var fromPort: Int
        public var toPort: Int
        public var sources: [String]

        public init(ipProtocol: String, fromPort: Int, toPort: Int, sources: [String]) {
            self.ipProtocol = ipProtocol
            self.fromPort = fromPort
            self.toPort = toPort
            self.sources = sources
        }
    }

    public struct Instance: Sendable, Equatable {
        public var id: String
        public var fixedIP: IPv4Address
        public var rules: [Rule]

        public init(id: String, fixedIP: IPv4Address, rules: [Rule]) {
            self.id = id
            self.fixedIP = fixedIP
            self.rules = rules
        }
    }

    public enum PlanError: Error, Equatable, CustomStringConvertible {
        case badPrefix(String)
        case badRule(String)

        public var description: String {
            switch self {
            case .badPrefix(let p): return "the firewall prefix '\(p)' must be 1-10 of a-z, 0-9 and '-'"
            case .badRule(let why): return why
            }
        }
    }

    public let prefix: String
    /// The bridge's own address (DHCP server): DHCP answers from it always pass.
    public var gateway: IPv4Address?
    public var instances: [Instance] = []
    /// Floating address → fixed address.
    public var floating: [(public: IPv4Address, fixed: IPv4Address)] = []
    /// Where the metadata service listens: 169.254.169.254:80 from instances is DNAT'd there.
    public var metadata: (address: IPv4Address, port: Int)?
    /// Instance chains of ours that no longer have an instance (removed after the rebuild).
    public var staleChains: [String] = []

    /// - Parameter prefix: every chain's name starts with it, so two clouds (or two test runs)
    ///   on one host never touch each other's rules.
    public init(prefix: String) throws(PlanError) {
        guard (1...10).contains(prefix.utf8.count),
              prefix.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }) else {
            throw .badPrefix(prefix)
        }
        self.prefix = prefix
    }

    public var forwardChain: String { "\(prefix)-fwd" }
    public var preroutingChain: String { "\(prefix)-pre" }
    public var outputChain: String { "\(prefix)-out" }
    public var postroutingChain: String { "\(prefix)-post" }

    /// An instance's chain: the prefix and a digest of its id (iptables allows 28 characters).
    public func chain(for instanceID: String) -> String {
        "\(prefix)-i" + Digests.sha256Hex(Array(instanceID.utf8)).prefix(12)
    }

    /// Our chains' hooks into the built-in ones, as `iptables` arguments (added once, after a
    /// `-C` check, by the network worker).
    public var hooks: [[String]] {
        [["-t", "filter", "FORWARD", "-j", forwardChain], ["-t", "nat", "PREROUTING", "-j", preroutingChain],
         ["-t", "nat", "OUTPUT", "-j", outputChain], ["-t", "nat", "POSTROUTING", "-j", postroutingChain]]
    }

    /// The `filter` table's input for `iptables-restore --noflush`.
    public func filterTable() throws(PlanError) -> String {
        var out = "*filter\n:\(forwardChain) - [0:0]\n"
        let sorted = instances.sorted { $0.fixedIP < $1.fixedIP }
        for i in sorted { out += ":\(chain(for: i.id)) - [0:0]\n" }
        for c in staleChains.sorted() where c.hasPrefix("\(prefix)-i") { out += ":\(c) - [0:0]\n" }
        for i in sorted { out += "-A \(forwardChain) -d \(i.fixedIP)/32 -j \(chain(for: i.id))\n" }
        for i in sorted {
            let c = chain(for: i.id)
            out += "-A \(c) -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
            if let gateway { out += "-A \(c) -s \(gateway)/32 -p udp --sport 67 --dport 68 -j ACCEPT\n" }
            for rule in i.rules {
                let match = try Self.match(rule)
                for source in rule.sources {
                    guard IPv4Network(source) != nil else { throw .badRule("source '\(source)' is not an IPv4 network") }
                    out += "-A \(c) -s \(source)\(match) -j ACCEPT\n"
                }
            }
            out += "-A \(c) -j DROP\n"
        }
        for c in staleChains.sorted() where c.hasPrefix("\(prefix)-i") { out += "-X \(c)\n" }
        return out + "COMMIT\n"
    }

    static func match(_ rule: Rule) throws(PlanError) -> String {
        switch rule.ipProtocol {
        case "-1": return ""
        case "tcp", "udp":
            guard (0...65535).contains(rule.fromPort), (0...65535).contains(rule.toPort), rule.fromPort <= rule.toPort else {
                throw .badRule("ports \(rule.fromPort)-\(rule.toPort) are not a range")
            }
            return " -p \(rule.ipProtocol) --dport \(rule.fromPort):\(rule.toPort)"
        case "icmp":
            guard (-1...255).contains(rule.fromPort), (-1...255).contains(rule.toPort) else { throw .badRule("bad ICMP type or code") }
            if rule.fromPort == -1 { return " -p icmp" }
            return " -p icmp --icmp-type \(rule.fromPort)" + (rule.toPort == -1 ? "" : "/\(rule.toPort)")
        default:
            throw .badRule("protocol '\(rule.ipProtocol)' is not tcp, udp, icmp or -1")
        }
    }

    /// The `nat` table's input for `iptables-restore --noflush`.
    public func natTable() -> String {
        var out = "*nat\n:\(preroutingChain) - [0:0]\n:\(outputChain) - [0:0]\n:\(postroutingChain) - [0:0]\n"
        if let metadata {
            out += "-A \(preroutingChain) -d 169.254.169.254/32 -p tcp --dport 80 -j DNAT --to-destination \(metadata.address):\(metadata.port)\n"
        }
        for f in floating.sorted(by: { $0.public < $1.public }) {
            out += "-A \(preroutingChain) -d \(f.public)/32 -j DNAT --to-destination \(f.fixed)\n"
            out += "-A \(outputChain) -d \(f.public)/32 -j DNAT --to-destination \(f.fixed)\n"
            out += "-A \(postroutingChain) -s \(f.fixed)/32 -j SNAT --to-source \(f.public)\n"
        }
        return out + "COMMIT\n"
    }
}
