/// A project's security group: a named set of ingress rules (every project has `default`).
public struct SecurityGroup: Sendable, Equatable, Codable {
    public var id: String
    public var project: String
    public var name: String
    public var description: String
    public var rules: [SecurityRule]

    public init(id: String, project: String, name: String, description: String, rules: [SecurityRule] = []) {
        self.id = id
        self.project = project
        self.name = name
        self.description = description
        self.rules = rules
    }
}

/// One ingress rule: a protocol and port range from a CIDR or from the members of a group.
public struct SecurityRule: Sendable, Hashable, Codable {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    public var ipProtocol: String
    /// Ports (ICMP: type and code); -1 for all.
    public var fromPort: Int
    public var toPort: Int
    public var cidr: String?
    /// Source group as (owning project, group name).
    public var sourceProject: String?
    public var sourceGroup: String?

    public init(ipProtocol: String, fromPort: Int, toPort: Int, cidr: String? = nil, sourceProject: String? = nil, sourceGroup: String? = nil) {
        self.ipProtocol = ipProtocol
        self.fromPort = fromPort
        self.toPort = toPort
        self.cidr = cidr
        self.sourceProject = sourceProject
        self.sourceGroup = sourceGroup
    }
}
