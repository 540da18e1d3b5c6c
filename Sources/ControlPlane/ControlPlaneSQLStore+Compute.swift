import Digest
import Foundation
import SQLite

/// Key pairs, security groups and floating addresses.
extension ControlPlaneSQLStore {
    // MARK: key pairs

    public func addKeyPair(_ pair: KeyPair) async throws {
        let at = now
        try await write { db in
            guard try db.exists("SELECT 1 FROM projects WHERE name = ?", [.text(pair.project)]) else {
                throw ControlPlaneError.notFound("project \(pair.project)")
            }
            guard try !db.exists("SELECT 1 FROM key_pairs WHERE project = ? AND name = ?", [.text(pair.project), .text(pair.name)]) else {
                throw ControlPlaneError.duplicate("key pair \(pair.name)")
            }
            try db.run("INSERT INTO key_pairs VALUES (?, ?, ?, ?, ?, ?)",
                       [.text(pair.project), .text(pair.name), .text(pair.fingerprint), .text(pair.publicKey), .text(pair.keyType), .int(at)])
        }
    }

    public func keyPairs(project: String, names: [String]) async throws -> [KeyPair] {
        let rows = try await write { db in
            try db.query("SELECT project, name, fingerprint, public_key, key_type, created_at FROM key_pairs WHERE project = ?", [.text(project)])
        }
        let wanted = Set(names)
        return rows.map { r in
            KeyPair(project: r[0].text ?? "", name: r[1].text ?? "", fingerprint: r[2].text ?? "", publicKey: r[3].text ?? "",
                    keyType: r[4].text ?? "", createdAt: r[5].int ?? 0)
        }.filter { wanted.isEmpty || wanted.contains($0.name) }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    public func deleteKeyPair(project: String, name: String) async throws -> Bool {
        try await write { db in try db.run("DELETE FROM key_pairs WHERE project = ? AND name = ?", [.text(project), .text(name)]) == 1 }
    }

    // MARK: security groups

    static func newGroupID() -> String { "sg-" + Hex.encode(Digests.randomBytes(4)) }

    /// Gives an existing project its `default` group (projects made before groups existed);
    /// names of no project get nothing.
    static func ensureDefaultGroup(_ db: any SQLConnection, project: String, at: Int64) throws {
        guard try !db.exists("SELECT 1 FROM security_groups WHERE project = ? AND name = 'default'", [.text(project)]),
              try db.exists("SELECT 1 FROM projects WHERE name = ?", [.text(project)]) else { return }
        try db.run("INSERT INTO security_groups VALUES (?, ?, 'default', 'default', ?)", [.text(newGroupID()), .text(project), .int(at)])
    }

    public func createSecurityGroup(project: String, name: String, description: String) async throws -> SecurityGroup {
        let group = SecurityGroup(id: Self.newGroupID(), project: project, name: name, description: description)
        let at = now
        try await write { db in
            guard try db.exists("SELECT 1 FROM projects WHERE name = ?", [.text(project)]) else { throw ControlPlaneError.notFound("project \(project)") }
            try Self.ensureDefaultGroup(db, project: project, at: at)
            guard try !db.exists("SELECT 1 FROM security_groups WHERE project = ? AND name = ?", [.text(project), .text(name)]) else {
                throw ControlPlaneError.duplicate("security group \(name)")
            }
            try db.run("INSERT INTO security_groups VALUES (?, ?, ?, ?, ?)", [.text(group.id), .text(project), .text(name), .text(description), .int(at)])
        }
        return group
    }

    public func securityGroups(project: String) async throws -> [SecurityGroup] {
        let at = now
        let (groups, rules) = try await write { db in
            try Self.ensureDefaultGroup(db, project: project, at: at)
            let groups = try db.query("SELECT id, project, name, description FROM security_groups WHERE project = ?", [.text(project)])
            let rules = try db.query("""
                SELECT r.group_id, r.protocol, r.from_port, r.to_port, r.cidr, r.source_project, r.source_group
                FROM security_rules r JOIN security_groups g ON g.id = r.group_id WHERE g.project = ?
                """, [.text(project)])
            return (groups, rules)
        }
        var byGroup: [String: [SecurityRule]] = [:]
        for r in rules {
            let cidr = r[4].text ?? "", sp = r[5].text ?? "", sg = r[6].text ?? ""
            byGroup[r[0].text ?? "", default: []].append(SecurityRule(
                ipProtocol: r[1].text ?? "", fromPort: Int(r[2].int ?? -1), toPort: Int(r[3].int ?? -1),
                cidr: cidr.isEmpty ? nil : cidr, sourceProject: sp.isEmpty ? nil : sp, sourceGroup: sg.isEmpty ? nil : sg))
        }
        return groups.map { g in
            let id = g[0].text ?? ""
            return SecurityGroup(id: id, project: g[1].text ?? "", name: g[2].text ?? "", description: g[3].text ?? "",
                                 rules: (byGroup[id] ?? []).sorted { "\($0)" < "\($1)" })
        }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    public func deleteSecurityGroup(project: String, id: String) async throws {
        try await write { db in
            guard let row = try db.query("SELECT name FROM security_groups WHERE project = ? AND id = ?", [.text(project), .text(id)]).first else {
                throw ControlPlaneError.notFound("security group \(id)")
            }
            let name = row[0].text ?? ""
            guard name != "default" else { throw ControlPlaneError.invalid("the default security group cannot be deleted") }
            guard try !db.exists("SELECT 1 FROM security_rules WHERE source_project = ? AND source_group = ? AND group_id <> ?",
                                 [.text(project), .text(name), .text(id)]) else {
                throw ControlPlaneError.inUse("security group \(name) is a source of another group's rules")
            }
            try db.run("DELETE FROM security_rules WHERE group_id = ?", [.text(id)])
            try db.run("DELETE FROM security_groups WHERE id = ?", [.text(id)])
        }
    }

    static func ruleArgs(_ groupID: String, _ r: SecurityRule) -> [SQLValue] {
        [.text(groupID), .text(r.ipProtocol), .int(Int64(r.fromPort)), .int(Int64(r.toPort)), .text(r.cidr ?? ""),
         .text(r.sourceProject ?? ""), .text(r.sourceGroup ?? "")]
    }

    static let ruleMatch = "group_id = ? AND protocol = ? AND from_port = ? AND to_port = ? AND cidr = ? AND source_project = ? AND source_group = ?"

    static func requireGroup(_ db: any SQLConnection, project: String, id: String) throws {
        guard try db.exists("SELECT 1 FROM security_groups WHERE project = ? AND id = ?", [.text(project), .text(id)]) else {
            throw ControlPlaneError.notFound("security group \(id)")
        }
    }

    public func authorize(project: String, groupID: String, rules: [SecurityRule]) async throws {
        try await write { db in
            try Self.requireGroup(db, project: project, id: groupID)
            for rule in Set(rules) {
                if let sp = rule.sourceProject, let sg = rule.sourceGroup,
                   try !db.exists("SELECT 1 FROM security_groups WHERE project = ? AND name = ?", [.text(sp), .text(sg)]) {
                    throw ControlPlaneError.notFound("security group \(sg)")
                }
                guard try !db.exists("SELECT 1 FROM security_rules WHERE \(Self.ruleMatch)", Self.ruleArgs(groupID, rule)) else {
                    throw ControlPlaneError.duplicate("the rule \(rule.summary)")
                }
                try db.run("INSERT INTO security_rules VALUES (?, ?, ?, ?, ?, ?, ?)", Self.ruleArgs(groupID, rule))
            }
        }
    }

    public func revoke(project: String, groupID: String, rules: [SecurityRule]) async throws {
        try await write { db in
            try Self.requireGroup(db, project: project, id: groupID)
            for rule in Set(rules) {
                guard try db.run("DELETE FROM security_rules WHERE \(Self.ruleMatch)", Self.ruleArgs(groupID, rule)) == 1 else {
                    throw ControlPlaneError.notFound("the rule \(rule.summary)")
                }
            }
        }
    }

    // MARK: addresses

    public func allocateAddress(project: String, pool: [String]) async throws -> FloatingAddress? {
        let at = now
        return try await write { db in
            let taken = Set(try db.query("SELECT ip FROM addresses", []).compactMap { $0[0].text })
            guard let ip = pool.first(where: { !taken.contains($0) }) else { return nil }
            try db.run("INSERT INTO addresses VALUES (?, ?, NULL, ?)", [.text(ip), .text(project), .int(at)])
            return FloatingAddress(ip: ip, project: project)
        }
    }

    public func addresses(project: String) async throws -> [FloatingAddress] {
        try await write { db in
            try db.query("SELECT ip, project, instance_id FROM addresses WHERE project = ?", [.text(project)]).map {
                FloatingAddress(ip: $0[0].text ?? "", project: $0[1].text ?? "", instanceID: $0[2].text)
            }
        }.sorted { $0.ip.utf8.lexicographicallyPrecedes($1.ip.utf8) }
    }

    public func releaseAddress(project: String, ip: String) async throws {
        try await write { db in
            guard try db.run("DELETE FROM addresses WHERE project = ? AND ip = ?", [.text(project), .text(ip)]) == 1 else {
                throw ControlPlaneError.notFound("address \(ip)")
            }
        }
    }
}

extension SecurityRule {
    /// `tcp 22-22 from 0.0.0.0/0`, for messages.
    public var summary: String {
        "\(ipProtocol) \(fromPort)-\(toPort) from " + (cidr ?? "group \(sourceProject ?? ""):\(sourceGroup ?? "")")
    }
}
