import Foundation
import SQLite

/// Instances, compute hosts and the work queue between the API and the compute workers, plus
/// fixed addresses and floating-address associations. Every change is one short transaction;
/// the work queue is the `instances` table itself (a task column, claimed by one worker).
extension ControlPlaneSQLStore {
    static let instanceColumns = """
        id, project, "user", reservation_id, image_id, kernel_id, ramdisk_id, instance_type, vcpus, memory_mib, disk_gib, key_name,
        public_key, user_data, group_ids, zone, host, state, state_reason, launch_index, client_token, fixed_ip, mac, task, task_seq,
        created_at, updated_at
        """

    static func instance(_ r: [SQLValue]) -> Instance {
        func t(_ i: Int) -> String { r[i].text ?? "" }
        func n(_ i: Int) -> Int { Int(r[i].int ?? 0) }
        return Instance(id: t(0), project: t(1), user: t(2), reservationID: t(3), imageID: t(4), kernelID: r[5].text, ramdiskID: r[6].text,
                        instanceType: t(7), vcpus: n(8), memoryMiB: n(9), diskGiB: n(10), keyName: r[11].text, publicKey: r[12].text,
                        userData: r[13].text, groupIDs: t(14).split(separator: " ").map(String.init), zone: t(15), host: r[16].text,
                        state: Instance.State(rawValue: t(17)) ?? .error, stateReason: r[18].text, launchIndex: n(19),
                        clientToken: r[20].text, fixedIP: r[21].text, mac: r[22].text, task: r[23].text.flatMap(Instance.Task.init),
                        taskSeq: r[24].int ?? 0, createdAt: r[25].int ?? 0, updatedAt: r[26].int ?? 0)
    }

    static func optional(_ s: String?) -> SQLValue { s.map { .text($0) } ?? .null }

    // MARK: launching

    public func launch(_ request: LaunchRequest) async throws -> [Instance] {
        let at = now
        let instances: [Instance] = try await write { db in
            let t = request.template
            if let token = t.clientToken {
                // ClientToken: the same request again answers the instances it made the first time.
                let earlier = try db.query("SELECT \(Self.instanceColumns) FROM instances WHERE project = ? AND client_token = ? ORDER BY launch_index",
                                           [.text(t.project), .text(token)]).map(Self.instance)
                if !earlier.isEmpty { return earlier }
            }
            // Capacity is read and taken in one transaction (PostgreSQL: the host rows locked),
            // so concurrent launches never promise one host's last room twice.
            let hosts = try Self.computeHosts(db, lock: self.engine.locksRows)
            let placed = try request.place(hosts)
            guard placed.count >= request.minCount else {
                throw ControlPlaneError.insufficientCapacity("There is not enough capacity for \(request.minCount) instance(s).")
            }
            let taken = try db.query("SELECT ip FROM fixed_ips WHERE instance_id IS NOT NULL OR leased_until > ?", [.int(at)])
            var blocked = request.reserved.union(taken.compactMap { $0[0].text })
            var made: [Instance] = []
            for (index, host) in placed.enumerated() {
                guard let ip = request.fixedRange.first(where: { !blocked.contains($0) }) else {
                    if made.count >= request.minCount { break }
                    throw ControlPlaneError.insufficientCapacity("No fixed address is free for another instance.")
                }
                blocked.insert(ip)
                var i = t
                i.id = request.newID()
                i.host = host
                i.launchIndex = index
                i.fixedIP = ip
                i.mac = Self.mac(for: ip)
                i.state = .pending
                i.task = .spawn
                i.taskSeq = 1
                i.createdAt = at
                i.updatedAt = at
                try db.run("DELETE FROM fixed_ips WHERE ip = ?", [.text(ip)])
                try db.run("INSERT INTO fixed_ips VALUES (?, ?, ?, 0)", [.text(ip), .text(i.project), .text(i.id)])
                try db.run("INSERT INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?, ?)", [
                    .text(i.id), .text(i.project), .text(i.user), .text(i.reservationID), .text(i.imageID), Self.optional(i.kernelID),
                    Self.optional(i.ramdiskID), .text(i.instanceType), .int(Int64(i.vcpus)), .int(Int64(i.memoryMiB)), .int(Int64(i.diskGiB)),
                    Self.optional(i.keyName), Self.optional(i.publicKey), Self.optional(i.userData), .text(i.groupIDs.joined(separator: " ")),
                    .text(i.zone), .text(host), .text(i.state.rawValue), .null, .int(Int64(index)), Self.optional(i.clientToken),
                    .text(ip), .text(i.mac ?? ""), .text(Instance.Task.spawn.rawValue), .int(1), .int(at), .int(at),
                ])
                made.append(i)
            }
            return made
        }
        await engine.notifyWork()
        return instances
    }

    /// A MAC for a fixed address: libvirt's QEMU prefix and the address's last three octets, so
    /// a DHCP host line and its lease always agree (and two instances never share one).
    static func mac(for ip: String) -> String {
        let octets = ip.split(separator: ".").compactMap { UInt8($0) }
        let tail = octets.count == 4 ? Array(octets[1...]) : [0, 0, 0]
        return "52:54:00:" + tail.map { String(format: "%02x", $0) }.joined(separator: ":")
    }

    // MARK: reading

    /// Terminated instances stay visible this long (microseconds), as in EC2.
    static let terminatedVisibility: Int64 = 3_600_000_000

    public func instances(project: String?) async throws -> [Instance] {
        let since = now - Self.terminatedVisibility
        return try await write { db in
            if let project {
                return try db.query("SELECT \(Self.instanceColumns) FROM instances WHERE project = ? AND (state NOT IN ('terminated', 'error') OR updated_at > ?)",
                                    [.text(project), .int(since)]).map(Self.instance)
            }
            return try db.query("SELECT \(Self.instanceColumns) FROM instances WHERE state NOT IN ('terminated', 'error') OR updated_at > ?",
                                [.int(since)]).map(Self.instance)
        }.sorted { ($0.createdAt, $0.launchIndex, $0.id) < ($1.createdAt, $1.launchIndex, $1.id) }
    }

    public func instance(_ id: String) async throws -> Instance? {
        try await write { db in try db.query("SELECT \(Self.instanceColumns) FROM instances WHERE id = ?", [.text(id)]).first.map(Self.instance) }
    }

    public func instance(fixedIP ip: String) async throws -> Instance? {
        try await write { db in
            try db.query("SELECT \(Self.instanceColumns) FROM instances WHERE fixed_ip = ? AND state NOT IN ('terminated', 'error') ORDER BY created_at DESC",
                         [.text(ip)]).first.map(Self.instance)
        }
    }

    // MARK: requests on instances

    public func requestTask(_ task: Instance.Task, project: String, ids: [String]) async throws -> [(instance: Instance, previous: Instance.State)] {
        let at = now
        let result: [(instance: Instance, previous: Instance.State)] = try await write { db in
            var out: [(instance: Instance, previous: Instance.State)] = []
            for id in ids {
                guard var i = try db.query("SELECT \(Self.instanceColumns) FROM instances WHERE id = ? AND project = ?",
                                           [.text(id), .text(project)]).first.map(Self.instance) else {
                    throw ControlPlaneError.notFound("instance \(id)")
                }
                let previous = i.state
                guard let next = try Self.transition(i, task) else {
                    out.append((i, previous))  // already there (terminate a terminated one, start a running one…)
                    continue
                }
                i.state = next
                i.task = task
                i.taskSeq += 1
                i.updatedAt = at
                try db.run("UPDATE instances SET state = ?, task = ?, task_seq = ?, claimed_by = NULL, updated_at = ? WHERE id = ?",
                           [.text(next.rawValue), .text(task.rawValue), .int(i.taskSeq), .int(at), .text(id)])
                out.append((i, previous))
            }
            return out
        }
        await engine.notifyWork()
        return result
    }

    /// The state a task moves an instance to; nil when it is there already; throws when the
    /// request makes no sense in its state (EC2's IncorrectInstanceState).
    static func transition(_ i: Instance, _ task: Instance.Task) throws -> Instance.State? {
        switch (task, i.state) {
        case (.terminate, let s) where s.isFinal: return nil
        case (.terminate, .shuttingDown): return nil
        case (.terminate, _): return .shuttingDown
        case (.reboot, .running): return .running
        case (.stop, .stopped), (.stop, .stopping): return nil
        case (.stop, .running), (.stop, .pending): return .stopping
        case (.start, .running), (.start, .pending): return nil
        case (.start, .stopped): return .pending
        default:
            throw ControlPlaneError.incorrectState("The instance '\(i.id)' is not in a state from which it can be \(task.pastTense) (it is \(i.state.ec2Name)).")
        }
    }

    // MARK: compute hosts

    public func reportHost(_ host: ComputeHost, worker: String) async throws {
        let at = now
        try await write { db in
            if try db.run("""
                UPDATE compute_hosts SET zone = ?, vcpus = ?, memory_mib = ?, disk_gib = ?, worker = ?, heartbeat = ?, endpoint = ?, token = ?
                WHERE name = ?
                """, [.text(host.zone), .int(Int64(host.vcpus)), .int(Int64(host.memoryMiB)), .int(Int64(host.diskGiB)), .text(worker),
                      .int(at), .text(host.endpoint), .text(host.token), .text(host.name)]) == 0 {
                try db.run("INSERT INTO compute_hosts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [.text(host.name), .text(host.zone), .int(Int64(host.vcpus)), .int(Int64(host.memoryMiB)), .int(Int64(host.diskGiB)),
                            .text(worker), .int(at), .text(host.endpoint), .text(host.token)])
            }
        }
    }

    public func computeHosts() async throws -> [ComputeHost] {
        try await write { db in try Self.computeHosts(db, lock: false) }
    }

    static func computeHosts(_ db: any SQLConnection, lock: Bool) throws -> [ComputeHost] {
        var hosts = try db.query("SELECT name, zone, vcpus, memory_mib, disk_gib, heartbeat, endpoint, token FROM compute_hosts ORDER BY name"
                                 + (lock ? " FOR UPDATE" : ""), [])
            .map { r in
                var h = ComputeHost(name: r[0].text ?? "", zone: r[1].text ?? "", vcpus: Int(r[2].int ?? 0), memoryMiB: Int(r[3].int ?? 0),
                                    diskGiB: Int(r[4].int ?? 0), heartbeat: r[5].int ?? 0)
                h.endpoint = r[6].text ?? ""
                h.token = r[7].text ?? ""
                return h
            }
        // The sums cast: PostgreSQL sums BIGINTs as NUMERIC.
        let used = try db.query("""
            SELECT host, CAST(SUM(vcpus) AS BIGINT), CAST(SUM(memory_mib) AS BIGINT), CAST(SUM(disk_gib) AS BIGINT), COUNT(*) FROM instances
            WHERE host IS NOT NULL AND state NOT IN ('terminated', 'error') GROUP BY host
            """, [])
        for u in used {
            guard let i = hosts.firstIndex(where: { $0.name == u[0].text }) else { continue }
            hosts[i].usedVCPUs = Int(u[1].int ?? 0)
            hosts[i].usedMemoryMiB = Int(u[2].int ?? 0)
            hosts[i].usedDiskGiB = Int(u[3].int ?? 0)
            hosts[i].instances = Int(u[4].int ?? 0)
        }
        return hosts
    }

    // MARK: the work queue

    public func releaseClaims(host: String) async throws {
        try await write { db in try db.run("UPDATE instances SET claimed_by = NULL WHERE host = ? AND claimed_by IS NOT NULL", [.text(host)]) }
        await engine.notifyWork()
    }

    public func claimWork(host: String, worker: String, limit: Int) async throws -> [Instance] {
        let at = now
        return try await write { db in
            let rows = try db.query("""
                SELECT \(Self.instanceColumns) FROM instances WHERE host = ? AND task IS NOT NULL AND claimed_by IS NULL
                ORDER BY updated_at LIMIT ?\(self.engine.skipLocked)
                """, [.text(host), .int(Int64(limit))]).map(Self.instance)
            for i in rows {
                try db.run("UPDATE instances SET claimed_by = ?, claimed_at = ?, attempts = attempts + 1 WHERE id = ?",
                           [.text(worker), .int(at), .text(i.id)])
            }
            return rows
        }
    }

    public func attempts(_ id: String) async throws -> Int {
        try await write { db in Int(try db.query("SELECT attempts FROM instances WHERE id = ?", [.text(id)]).first?[0].int ?? 0) }
    }

    public func finishWork(_ instance: Instance, worker: String, state: Instance.State, reason: String?) async throws -> Bool {
        let at = now, leaseUntil = now + Int64(fixedLeaseSeconds) * 1_000_000
        let done: Bool = try await write { db in
            // A newer request (terminate during a spawn) keeps its task: only the claim goes.
            guard try db.run("""
                UPDATE instances SET state = ?, state_reason = ?, task = NULL, claimed_by = NULL, attempts = 0, updated_at = ?
                WHERE id = ? AND claimed_by = ? AND task_seq = ?
                """, [.text(state.rawValue), Self.optional(reason), .int(at), .text(instance.id), .text(worker), .int(instance.taskSeq)]) == 1 else {
                try db.run("UPDATE instances SET claimed_by = NULL WHERE id = ? AND claimed_by = ?", [.text(instance.id), .text(worker)])
                return false
            }
            if state.isFinal { try Self.releaseResources(db, instance.id, leaseUntil: leaseUntil) }
            return true
        }
        await engine.notifyWork()
        return done
    }

    /// A gone instance's fixed address (reusable once its lease has surely expired) and its
    /// floating addresses (disassociated, as EC2 does on terminate).
    static func releaseResources(_ db: any SQLConnection, _ id: String, leaseUntil: Int64) throws {
        try db.run("UPDATE fixed_ips SET instance_id = NULL, leased_until = CASE WHEN leased_until > ? THEN leased_until ELSE ? END WHERE instance_id = ?",
                   [.int(leaseUntil), .int(leaseUntil), .text(id)])
        try db.run("UPDATE addresses SET instance_id = NULL WHERE instance_id = ?", [.text(id)])
    }

    public func setInstanceState(_ id: String, from expected: Instance.State, to state: Instance.State, reason: String?) async throws -> Bool {
        let at = now, leaseUntil = now + Int64(fixedLeaseSeconds) * 1_000_000
        let changed: Bool = try await write { db in
            guard try db.run("UPDATE instances SET state = ?, state_reason = ?, updated_at = ? WHERE id = ? AND state = ? AND task IS NULL",
                             [.text(state.rawValue), Self.optional(reason), .int(at), .text(id), .text(expected.rawValue)]) == 1 else { return false }
            if state.isFinal { try Self.releaseResources(db, id, leaseUntil: leaseUntil) }
            return true
        }
        if changed { await engine.notifyWork() }
        return changed
    }

    public func unclaim(_ instance: Instance, worker: String) async throws {
        try await write { db in try db.run("UPDATE instances SET claimed_by = NULL WHERE id = ? AND claimed_by = ?", [.text(instance.id), .text(worker)]) }
    }

    public func failInstancesOfSilentHosts(silentFor seconds: Double) async throws -> [String] {
        let at = now, deadline = now - Int64(seconds * 1_000_000), leaseUntil = now + Int64(fixedLeaseSeconds) * 1_000_000
        let failed: [String] = try await write { db in
            let rows = try db.query("""
                SELECT i.id, i.host FROM instances i JOIN compute_hosts h ON h.name = i.host
                WHERE i.task IS NOT NULL AND i.state IN ('pending', 'shutting-down') AND h.heartbeat < ?
                """, [.int(deadline)])
            for r in rows {
                let id = r[0].text ?? ""
                let wasTerminating = try db.exists("SELECT 1 FROM instances WHERE id = ? AND state = 'shutting-down'", [.text(id)])
                try db.run("UPDATE instances SET state = ?, state_reason = ?, task = NULL, claimed_by = NULL, updated_at = ? WHERE id = ?",
                           [.text(wasTerminating ? "terminated" : "error"),
                            .text("Server.InternalError: compute host \(r[1].text ?? "") stopped reporting"), .int(at), .text(id)])
                try Self.releaseResources(db, id, leaseUntil: leaseUntil)
            }
            return rows.compactMap { $0[0].text }
        }
        if !failed.isEmpty { await engine.notifyWork() }
        return failed
    }

    public func waitForWork(since generation: Int, timeout: Double) async { await engine.waitForWork(since: generation, timeout: timeout) }

    public var workGeneration: Int { engine.workGeneration }

    // MARK: addresses

    public func associateAddress(project: String, ip: String, instanceID: String) async throws {
        try await write { db in
            guard try db.exists("SELECT 1 FROM addresses WHERE project = ? AND ip = ?", [.text(project), .text(ip)]) else {
                throw ControlPlaneError.notFound("address \(ip)")
            }
            guard let state = try db.query("SELECT state FROM instances WHERE id = ? AND project = ?", [.text(instanceID), .text(project)]).first?[0].text else {
                throw ControlPlaneError.notFound("instance \(instanceID)")
            }
            guard state == "running" || state == "pending" || state == "stopped" else {
                throw ControlPlaneError.incorrectState("The instance '\(instanceID)' is \(state): an address cannot be associated with it.")
            }
            // An instance has one public address: associating another moves it.
            try db.run("UPDATE addresses SET instance_id = NULL WHERE instance_id = ?", [.text(instanceID)])
            try db.run("UPDATE addresses SET instance_id = ? WHERE ip = ?", [.text(instanceID), .text(ip)])
        }
        await engine.notifyWork()
    }

    public func disassociateAddress(project: String, ip: String) async throws {
        try await write { db in
            guard try db.run("UPDATE addresses SET instance_id = NULL WHERE project = ? AND ip = ?", [.text(project), .text(ip)]) == 1 else {
                throw ControlPlaneError.notFound("address \(ip)")
            }
        }
        await engine.notifyWork()
    }

    public func floatingAssociations() async throws -> [(publicIP: String, fixedIP: String)] {
        try await write { db in
            try db.query("""
                SELECT a.ip, i.fixed_ip FROM addresses a JOIN instances i ON i.id = a.instance_id
                WHERE i.fixed_ip IS NOT NULL AND i.state NOT IN ('terminated', 'error') ORDER BY a.ip
                """, []).map { (publicIP: $0[0].text ?? "", fixedIP: $0[1].text ?? "") }
        }
    }

    public func recordLeases(_ leases: [(ip: String, expires: Int64)]) async throws {
        try await write { db in
            for l in leases {
                try db.run("UPDATE fixed_ips SET leased_until = ? WHERE ip = ? AND leased_until < ?", [.int(l.expires), .text(l.ip), .int(l.expires)])
            }
        }
    }

    public func fixedIPStandings() async throws -> [(ip: String, instanceID: String?, leasedUntil: Int64)] {
        try await write { db in
            try db.query("SELECT ip, instance_id, leased_until FROM fixed_ips ORDER BY ip", []).map {
                (ip: $0[0].text ?? "", instanceID: $0[1].text, leasedUntil: $0[2].int ?? 0)
            }
        }
    }
}

extension Instance.Task {
    var pastTense: String {
        switch self {
        case .spawn: return "launched"
        case .reboot: return "rebooted"
        case .stop: return "stopped"
        case .start: return "started"
        case .terminate: return "terminated"
        }
    }
}
