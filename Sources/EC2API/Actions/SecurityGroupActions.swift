import ControlPlane
import CloudNetwork

/// CreateSecurityGroup, DescribeSecurityGroups (sorted by name; every project has `default`),
/// DeleteSecurityGroup, Authorize/RevokeSecurityGroupIngress (the `IpPermissions.N` form the
/// SDKs send and the legacy top-level form of EC2-Classic tools).
enum SecurityGroupActions {
    /// EC2's default limits: rules per group, groups per project.
    static let maxRulesPerGroup = 60
    static let maxGroupsPerProject = 500

    /// The caller's groups, read once per call however many rules name a source group.
    final class GroupCache: @unchecked Sendable {
        // @unchecked Sendable: used by one call's task, one rule at a time.
        var groups: [SecurityGroup] = []
        private var loaded = false

        func load(_ call: EC2Call) async throws {
            guard !loaded else { return }
            groups = try await call.store.securityGroups(project: call.project)
            loaded = true
        }
    }

    static func create(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let name = try call.request.required("GroupName")
        let description = try call.request.required("GroupDescription")
        for (what, text) in [("name", name), ("description", description)] {
            guard text.utf8.count <= 255, text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }) else {
                throw EC2Error("InvalidParameterValue", "Security group \(what)s are 1 to 255 printable ASCII characters.")
            }
        }
        guard !name.lowercased().hasPrefix("sg-") else {
            throw EC2Error("InvalidParameterValue", "Group names may not be in the format sg-*.")
        }
        guard try await call.store.securityGroups(project: call.project).count < maxGroupsPerProject else {
            throw EC2Error("SecurityGroupLimitExceeded", "A project may have at most \(maxGroupsPerProject) security groups.")
        }
        do {
            let group = try await call.store.createSecurityGroup(project: call.project, name: name, description: description)
            return [.text("return", "true"), .text("groupId", group.id)]
        } catch ControlPlaneError.duplicate {
            throw EC2Error("InvalidGroup.Duplicate", "The security group '\(name)' already exists")
        }
    }

    /// The caller's group named by `GroupId` or `GroupName` (or the given parameter names).
    static func target(_ call: EC2Call, idKey: String = "GroupId", nameKey: String = "GroupName") async throws -> SecurityGroup {
        let groups = try await call.store.securityGroups(project: call.project)
        if let id = call.request[idKey], !id.isEmpty {
            guard let g = groups.first(where: { $0.id == id }) else {
                throw EC2Error("InvalidGroup.NotFound", "The security group '\(id)' does not exist")
            }
            return g
        }
        let name = try call.request.required(nameKey)
        guard let g = groups.first(where: { $0.name == name }) else {
            throw EC2Error("InvalidGroup.NotFound", "The security group '\(name)' does not exist")
        }
        return g
    }

    static func describe(_ call: EC2Call) async throws -> [EC2XML.Node] {
        var groups = try await call.store.securityGroups(project: call.project)
        let names = call.request.list("GroupName"), ids = call.request.list("GroupId")
        if let missing = names.first(where: { n in !groups.contains { $0.name == n } }) {
            throw EC2Error("InvalidGroup.NotFound", "The security group '\(missing)' does not exist")
        }
        if let missing = ids.first(where: { i in !groups.contains { $0.id == i } }) {
            throw EC2Error("InvalidGroup.NotFound", "The security group '\(missing)' does not exist")
        }
        if !names.isEmpty || !ids.isEmpty { groups = groups.filter { names.contains($0.name) || ids.contains($0.id) } }
        for (name, values) in try call.request.filters {
            switch name {
            case "group-name": groups = groups.filter { values.contains($0.name) }
            case "group-id": groups = groups.filter { values.contains($0.id) }
            case "description": groups = groups.filter { values.contains($0.description) }
            case "owner-id": groups = groups.filter { values.contains($0.project) }
            case "ip-permission.cidr": groups = groups.filter { $0.rules.contains { r in r.cidr.map(values.contains) ?? false } }
            case "ip-permission.protocol": groups = groups.filter { $0.rules.contains { values.contains($0.ipProtocol) } }
            case "ip-permission.from-port": groups = groups.filter { $0.rules.contains { values.contains(String($0.fromPort)) } }
            case "ip-permission.to-port": groups = groups.filter { $0.rules.contains { values.contains(String($0.toPort)) } }
            case "ip-permission.group-name": groups = groups.filter { $0.rules.contains { r in r.sourceGroup.map(values.contains) ?? false } }
            default: throw EC2Error("InvalidParameterValue", "The filter '\(name)' is invalid")
            }
        }
        // Source groups of other projects, for their ids.
        var groupIDs: [String: String] = [:]
        for g in try await call.store.securityGroups(project: call.project) { groupIDs["\(g.project)\u{0}\(g.name)"] = g.id }
        for project in Set(groups.flatMap { $0.rules.compactMap(\.sourceProject) }) where project != call.project {
            for g in try await call.store.securityGroups(project: project) { groupIDs["\(g.project)\u{0}\(g.name)"] = g.id }
        }
        return [.set("securityGroupInfo", groups.map { g in
            [.text("ownerId", g.project), .text("groupId", g.id), .text("groupName", g.name), .text("groupDescription", g.description),
             .set("ipPermissions", permissions(g.rules, ids: groupIDs)), .set("ipPermissionsEgress", []), .set("tagSet", [])]
        })]
    }

    /// Rules grouped as EC2 shows them: one item per protocol and port range.
    static func permissions(_ rules: [SecurityRule], ids: [String: String]) -> [[EC2XML.Node]] {
        var order: [String] = []
        var grouped: [String: [SecurityRule]] = [:]
        for r in rules {
            let key = "\(r.ipProtocol) \(r.fromPort) \(r.toPort)"
            if grouped[key] == nil { order.append(key) }
            grouped[key, default: []].append(r)
        }
        return order.map { key in
            let rs = grouped[key] ?? []
            guard let first = rs.first else { return [] }
            var item: [EC2XML.Node] = [.text("ipProtocol", first.ipProtocol)]
            if first.ipProtocol != "-1" { item += [.text("fromPort", String(first.fromPort)), .text("toPort", String(first.toPort))] }
            item.append(.set("groups", rs.compactMap { r in
                guard let sp = r.sourceProject, let sg = r.sourceGroup else { return nil }
                return [.text("userId", sp), .text("groupId", ids["\(sp)\u{0}\(sg)"] ?? ""), .text("groupName", sg)]
            }))
            item.append(.set("ipRanges", rs.compactMap { r in r.cidr.map { [.text("cidrIp", $0)] } }))
            item.append(.set("ipv6Ranges", []))
            item.append(.set("prefixListIds", []))
            return item
        }
    }

    static func delete(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let group = try await target(call)
        do { try await call.store.deleteSecurityGroup(project: call.project, id: group.id) } catch ControlPlaneError.inUse(let why) {
            throw EC2Error("DependencyViolation", "resource \(group.id) has a dependent object: \(why)")
        } catch ControlPlaneError.invalid(let why) {
            throw EC2Error("CannotDelete", why)
        }
        return [.text("return", "true")]
    }

    static func authorize(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let group = try await target(call)
        let rules = try await self.rules(call)
        guard group.rules.count + rules.count <= maxRulesPerGroup else {
            throw EC2Error("RulesPerSecurityGroupLimitExceeded", "A security group may have at most \(maxRulesPerGroup) rules.")
        }
        do { try await call.store.authorize(project: call.project, groupID: group.id, rules: rules) } catch ControlPlaneError.duplicate {
            guard let r = rules.first(where: { r in group.rules.contains(r) }) ?? rules.first else {
                throw EC2Error("InvalidPermission.Duplicate", "the specified rule already exists")
            }
            throw EC2Error("InvalidPermission.Duplicate",
                           "the specified rule \"peer: \(r.cidr ?? r.sourceGroup ?? ""), \(r.ipProtocol.uppercased()), from port: \(r.fromPort), to port: \(r.toPort), ALLOW\" already exists")
        } catch ControlPlaneError.notFound(let what) {
            throw EC2Error("InvalidGroup.NotFound", "The \(what) does not exist")
        }
        return [.text("return", "true")]
    }

    static func revoke(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let group = try await target(call)
        let rules = try await self.rules(call)
        do { try await call.store.revoke(project: call.project, groupID: group.id, rules: rules) } catch ControlPlaneError.notFound {
            throw EC2Error("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
        }
        return [.text("return", "true")]
    }

    /// The rules a call names, validated: `IpPermissions.N.*`, or the legacy top-level form.
    static func rules(_ call: EC2Call) async throws -> [SecurityRule] {
        var out: [SecurityRule] = []
        let permissions = call.request.structures("IpPermissions")
        if permissions.isEmpty {
            // EC2-Classic's form: one protocol and range from a CIDR or a source group; a source
            // group alone means all of TCP, UDP and ICMP from it.
            let p = call.request.parameters
            guard p["IpProtocol"] != nil || p["SourceSecurityGroupName"] != nil || p["CidrIp"] != nil else {
                throw EC2Error("MissingParameter", "The request must contain the parameter IpPermissions")
            }
            var legacy: [String: String] = [:]
            if let proto = p["IpProtocol"] { legacy["IpProtocol"] = proto }
            if let from = p["FromPort"] { legacy["FromPort"] = from }
            if let to = p["ToPort"] { legacy["ToPort"] = to }
            if let cidr = p["CidrIp"] { legacy["IpRanges.1.CidrIp"] = cidr }
            if let name = p["SourceSecurityGroupName"] {
                legacy["Groups.1.GroupName"] = name
                if let owner = p["SourceSecurityGroupOwnerId"] { legacy["Groups.1.UserId"] = owner }
            }
            if legacy["IpProtocol"] == nil {
                for (proto, from, to) in [("tcp", "0", "65535"), ("udp", "0", "65535"), ("icmp", "-1", "-1")] {
                    var one = legacy
                    one["IpProtocol"] = proto
                    one["FromPort"] = from
                    one["ToPort"] = to
                    out += try await permission(one, call)
                }
                return out
            }
            return try await permission(legacy, call)
        }
        guard permissions.count <= 60 else { throw EC2Error("InvalidParameterValue", "At most 60 permissions per call.") }
        let groups = GroupCache()
        for perm in permissions { out += try await permission(perm, call, groups) }
        guard out.count <= maxRulesPerGroup else { throw EC2Error("RulesPerSecurityGroupLimitExceeded", "A call may add at most \(maxRulesPerGroup) rules.") }
        return out
    }

    static func permission(_ p: [String: String], _ call: EC2Call, _ ownGroups: GroupCache = GroupCache()) async throws -> [SecurityRule] {
        guard let rawProtocol = p["IpProtocol"]?.lowercased(), !rawProtocol.isEmpty else {
            throw EC2Error("MissingParameter", "The request must contain the parameter IpProtocol")
        }
        let proto: String
        switch rawProtocol {
        case "tcp", "6": proto = "tcp"
        case "udp", "17": proto = "udp"
        case "icmp", "1": proto = "icmp"
        case "-1", "all": proto = "-1"
        default: throw EC2Error("InvalidParameterValue", "Invalid value '\(rawProtocol)' for IP protocol. Unknown protocol.")
        }
        func port(_ key: String) throws(EC2Error) -> Int? {
            guard let text = p[key], !text.isEmpty else { return nil }
            guard let n = Int(text) else { throw EC2Error("InvalidParameterValue", "Invalid value '\(text)' for \(key).") }
            return n
        }
        var from = try port("FromPort") ?? -1, to = try port("ToPort") ?? -1
        switch proto {
        case "tcp", "udp":
            guard (0...65535).contains(from), (0...65535).contains(to), from <= to else {
                throw EC2Error("InvalidParameterValue", "Invalid port range \(from)-\(to): \(proto) ports are 0 to 65535, from <= to.")
            }
        case "icmp":
            guard (-1...255).contains(from), (-1...255).contains(to) else {
                throw EC2Error("InvalidParameterValue", "Invalid ICMP type \(from) or code \(to): each is -1 to 255.")
            }
        default:
            from = -1
            to = -1
        }
        var rules: [SecurityRule] = []
        for range in EC2Request.structures(p, "IpRanges") {
            guard let cidr = range["CidrIp"], IPv4Network(cidr) != nil else {
                throw EC2Error("InvalidParameterValue", "CIDR block \(range["CidrIp"] ?? "") is malformed")
            }
            rules.append(SecurityRule(ipProtocol: proto, fromPort: from, toPort: to, cidr: cidr))
        }
        if !EC2Request.structures(p, "Ipv6Ranges").isEmpty || !EC2Request.structures(p, "PrefixListIds").isEmpty {
            throw EC2Error("InvalidParameterValue", "This cloud has IPv4 security group rules only.")
        }
        let sources = EC2Request.structures(p, "Groups")
        if !sources.isEmpty { try await ownGroups.load(call) }
        for source in sources {
            // Source groups are the caller's own: another project's group names are not theirs to
            // learn or to pin (its owner could then not delete it).
            let owner = source["UserId"].flatMap { $0.isEmpty ? nil : $0 } ?? call.project
            guard owner == call.project else {
                throw EC2Error("InvalidGroup.NotFound", "Source groups must belong to this project, not '\(owner)'")
            }
            let groups = ownGroups.groups
            let found: SecurityGroup?
            if let id = source["GroupId"], !id.isEmpty { found = groups.first { $0.id == id } }
            else if let name = source["GroupName"], !name.isEmpty { found = groups.first { $0.name == name } }
            else { throw EC2Error("MissingParameter", "A source group needs GroupId or GroupName.") }
            guard let group = found else {
                throw EC2Error("InvalidGroup.NotFound", "The security group '\(source["GroupId"] ?? source["GroupName"] ?? "")' does not exist")
            }
            rules.append(SecurityRule(ipProtocol: proto, fromPort: from, toPort: to, sourceProject: owner, sourceGroup: group.name))
        }
        guard !rules.isEmpty else {
            throw EC2Error("InvalidParameterValue", "A rule needs a CIDR range (IpRanges) or a source group (Groups).")
        }
        return rules
    }
}
