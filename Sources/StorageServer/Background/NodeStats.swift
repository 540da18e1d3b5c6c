import Foundation

/// What the background work of a node has done, for `/recon` (JSON) and `/metrics`
/// (Prometheus text) on the node's port, and `nimbus status`.
actor NodeStats {
    struct Snapshot: Codable, Sendable {
        var objectReplication: ReplicationPassResult?
        var objectReplicationLast: Double?
        var objectReplicationPasses = 0
        var dbReplication: ReplicationPassResult?
        var dbReplicationLast: Double?
        var updaterSent = 0
        var updaterFailed = 0
        var updaterLast: Double?
        var asyncPending = 0
        var quarantined = 0
        var auditedObjects = 0
        var auditedBytes: Int64 = 0
        var auditorLast: Double?
        var expired = 0
    }

    private(set) var snapshot = Snapshot()

    func recordObjectReplication(_ r: ReplicationPassResult, at time: Double) {
        snapshot.objectReplication = r
        snapshot.objectReplicationLast = time
        snapshot.objectReplicationPasses += 1
    }

    func recordDBReplication(_ r: ReplicationPassResult, at time: Double) {
        snapshot.dbReplication = r
        snapshot.dbReplicationLast = time
    }

    func recordUpdater(sent: Int, failed: Int, remaining: Int, at time: Double) {
        snapshot.updaterSent += sent
        snapshot.updaterFailed += failed
        snapshot.asyncPending = remaining
        snapshot.updaterLast = time
    }

    func recordAudit(objects: Int, bytes: Int64, at time: Double) {
        snapshot.auditedObjects += objects
        snapshot.auditedBytes += bytes
        snapshot.auditorLast = time
    }

    func countQuarantined(_ n: Int = 1) { snapshot.quarantined += n }
    func countExpired(_ n: Int) { snapshot.expired += n }

    /// Prometheus text exposition of the counters.
    func prometheus(node: String) -> String {
        let s = snapshot
        var lines: [String] = []
        func metric(_ name: String, _ help: String, _ type: String, _ value: Double) {
            lines.append("# HELP nimbus_\(name) \(help)")
            lines.append("# TYPE nimbus_\(name) \(type)")
            lines.append("nimbus_\(name){node=\"\(node)\"} \(value)")
        }
        metric("object_replication_passes_total", "Object replication passes finished.", "counter", Double(s.objectReplicationPasses))
        metric("object_replication_last_pass_seconds", "Duration of the last object replication pass.", "gauge", s.objectReplication?.seconds ?? 0)
        metric("object_replication_pushed_files", "Files pushed to peers in the last pass.", "gauge", Double(s.objectReplication?.pushed ?? 0))
        metric("object_replication_handoff_partitions", "Handoff partitions held at the last pass.", "gauge",
               Double(s.objectReplication?.handoffPartitions ?? 0))
        metric("object_replication_failures", "Peers that could not be synced in the last pass.", "gauge", Double(s.objectReplication?.failures ?? 0))
        metric("db_replication_failures", "DB replicas that could not be synced in the last pass.", "gauge", Double(s.dbReplication?.failures ?? 0))
        metric("async_pending", "Container updates waiting to be sent.", "gauge", Double(s.asyncPending))
        metric("updater_sent_total", "Async container updates delivered.", "counter", Double(s.updaterSent))
        metric("quarantined_total", "Objects quarantined (bad MD5 or metadata).", "counter", Double(s.quarantined))
        metric("audited_objects_total", "Objects read and checked by the auditor.", "counter", Double(s.auditedObjects))
        metric("audited_bytes_total", "Bytes read by the auditor.", "counter", Double(s.auditedBytes))
        metric("expired_objects_total", "Objects deleted by the expirer.", "counter", Double(s.expired))
        return lines.joined(separator: "\n") + "\n"
    }
}
