import Foundation
import NimbusCore
import SQLite

/// What a DB replica tells a peer before rows are exchanged (Swift's replicator `sync` call):
/// enough to create the DB there if it is missing, and to merge timestamps and metadata.
public struct ReplicaSummary: Codable, Sendable {
    public var id: String
    public var maxRow: Int64
    public var account: String
    /// Nil for an account DB.
    public var container: String?
    public var putTimestamp: String
    public var deleteTimestamp: String
    /// The metadata column (`{"key": [value, timestamp]}`).
    public var metadata: String
}

/// A batch of rows sent to a peer; `lastRow` becomes the peer's sync point for `senderID`.
public struct ReplicaRows<Record: Codable & Sendable>: Codable, Sendable {
    public var senderID: String
    public var lastRow: Int64
    public var records: [Record]

    public init(senderID: String, lastRow: Int64, records: [Record]) {
        self.senderID = senderID
        self.lastRow = lastRow
        self.records = records
    }
}

extension InfoRow {
    /// The replica's unique id (made at creation).
    func replicaID() throws -> String {
        try db.query("SELECT id FROM \(table)").first?.first?.text ?? ""
    }

    /// The newest row id of `rows` (0 when empty).
    func maxRow(_ rows: String) throws -> Int64 {
        try db.query("SELECT coalesce(max(ROWID), 0) FROM \(rows)").first?.first?.int ?? 0
    }

    private func ensureSyncTable() throws {
        try db.execute("CREATE TABLE IF NOT EXISTS incoming_sync (remote_id TEXT PRIMARY KEY, sync_point INTEGER NOT NULL)")
    }

    /// The newest row of `remoteID` this replica has merged.
    func syncPoint(_ remoteID: String) throws -> Int64 {
        try ensureSyncTable()
        return try db.query("SELECT sync_point FROM incoming_sync WHERE remote_id = ?", [.text(remoteID)]).first?.first?.int ?? 0
    }

    func setSyncPoint(_ remoteID: String, _ point: Int64) throws {
        try ensureSyncTable()
        try db.run("INSERT OR REPLACE INTO incoming_sync (remote_id, sync_point) VALUES (?, ?)", [.text(remoteID), .int(point)])
    }

    /// Merges a peer's timestamps and metadata (newest wins, key by key).
    func mergeSummary(_ s: ReplicaSummary) throws {
        if let put = Timestamp(s.putTimestamp) { try raise("put_timestamp", to: put) }
        if let del = Timestamp(s.deleteTimestamp) { try raise("delete_timestamp", to: del) }
        let theirs = BrokerMetadata(json: s.metadata)
        guard !theirs.entries.isEmpty else { return }
        try db.transaction {
            var meta = BrokerMetadata(json: try db.query("SELECT metadata FROM \(table)").first?.first?.text ?? "{}")
            var changed = false
            for (k, v) in theirs.entries where (meta.entries[k]?.timestamp ?? .zero) < v.timestamp {
                meta.entries[k] = v
                changed = true
            }
            if changed { try db.run("UPDATE \(table) SET metadata = ?", [.text(meta.json)]) }
        }
    }

    func summary(rows: String, account: String, container: String?) throws -> ReplicaSummary {
        guard let r = try db.query("SELECT put_timestamp, delete_timestamp, metadata FROM \(table)").first else { throw DBError.corrupt(table) }
        return ReplicaSummary(id: try replicaID(), maxRow: try maxRow(rows), account: account, container: container,
                              putTimestamp: r[0].text ?? "0", deleteTimestamp: r[1].text ?? "0", metadata: r[2].text ?? "{}")
    }
}

extension ObjectRecord: Codable {
    enum CodingKeys: String, CodingKey { case name, createdAt = "created_at", size, contentType = "content_type", etag, deleted }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name),
                  createdAt: Timestamp(try c.decode(String.self, forKey: .createdAt)) ?? .zero,
                  size: try c.decode(Int64.self, forKey: .size), contentType: try c.decode(String.self, forKey: .contentType),
                  etag: try c.decode(String.self, forKey: .etag), deleted: try c.decode(Bool.self, forKey: .deleted))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(createdAt.internalForm, forKey: .createdAt)
        try c.encode(size, forKey: .size)
        try c.encode(contentType, forKey: .contentType)
        try c.encode(etag, forKey: .etag)
        try c.encode(deleted, forKey: .deleted)
    }
}

extension ContainerRecord: Codable {
    enum CodingKeys: String, CodingKey { case name, putTimestamp = "put_timestamp", deleteTimestamp = "delete_timestamp",
                                         objectCount = "object_count", bytesUsed = "bytes_used" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name),
                  putTimestamp: Timestamp(try c.decode(String.self, forKey: .putTimestamp)) ?? .zero,
                  deleteTimestamp: Timestamp(try c.decode(String.self, forKey: .deleteTimestamp)) ?? .zero,
                  objectCount: try c.decode(Int64.self, forKey: .objectCount), bytesUsed: try c.decode(Int64.self, forKey: .bytesUsed))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(putTimestamp.internalForm, forKey: .putTimestamp)
        try c.encode(deleteTimestamp.internalForm, forKey: .deleteTimestamp)
        try c.encode(objectCount, forKey: .objectCount)
        try c.encode(bytesUsed, forKey: .bytesUsed)
    }
}

/// The replication side of a broker: summary, rows since a sync point, merges from peers.
public protocol ReplicatedBroker: AnyObject {
    associatedtype Record: Codable & Sendable
    func replicaSummary() throws -> ReplicaSummary
    /// Rows (deleted ones included) after `row`, oldest first, at most `limit`; and the last row id.
    func rows(after row: Int64, limit: Int) throws -> (records: [Record], lastRow: Int64)
    func mergeReplica(_ rows: ReplicaRows<Record>) throws
    func mergeReplicaSummary(_ summary: ReplicaSummary) throws
    func incomingSyncPoint(_ remoteID: String) throws -> Int64
}

extension ContainerBroker: ReplicatedBroker {
    public func replicaSummary() throws -> ReplicaSummary {
        let i = try info()
        return try infoRow.summary(rows: "object", account: i.account, container: i.container)
    }

    public func rows(after row: Int64, limit: Int) throws -> (records: [ObjectRecord], lastRow: Int64) {
        let rows = try db.query("SELECT ROWID, name, created_at, size, content_type, etag, deleted FROM object WHERE ROWID > ? ORDER BY ROWID LIMIT ?",
                                [.int(row), .int(Int64(limit))])
        let records = rows.map { r in
            ObjectRecord(name: r[1].text ?? "", createdAt: Timestamp(r[2].text ?? "0") ?? .zero, size: r[3].int ?? 0,
                         contentType: r[4].text ?? "", etag: r[5].text ?? "", deleted: (r[6].int ?? 0) != 0)
        }
        return (records, rows.last?[0].int ?? row)
    }

    public func mergeReplica(_ rows: ReplicaRows<ObjectRecord>) throws {
        try merge(rows.records)
        try infoRow.setSyncPoint(rows.senderID, rows.lastRow)
    }

    public func mergeReplicaSummary(_ summary: ReplicaSummary) throws { try infoRow.mergeSummary(summary) }
    public func incomingSyncPoint(_ remoteID: String) throws -> Int64 { try infoRow.syncPoint(remoteID) }
}

extension AccountBroker: ReplicatedBroker {
    public func replicaSummary() throws -> ReplicaSummary {
        try infoRow.summary(rows: "container", account: try info().account, container: nil)
    }

    public func rows(after row: Int64, limit: Int) throws -> (records: [ContainerRecord], lastRow: Int64) {
        let rows = try db.query("SELECT ROWID, name, put_timestamp, delete_timestamp, object_count, bytes_used FROM container WHERE ROWID > ? ORDER BY ROWID LIMIT ?",
                                [.int(row), .int(Int64(limit))])
        let records = rows.map { r in
            ContainerRecord(name: r[1].text ?? "", putTimestamp: Timestamp(r[2].text ?? "0") ?? .zero,
                            deleteTimestamp: Timestamp(r[3].text ?? "0") ?? .zero, objectCount: r[4].int ?? 0, bytesUsed: r[5].int ?? 0)
        }
        return (records, rows.last?[0].int ?? row)
    }

    public func mergeReplica(_ rows: ReplicaRows<ContainerRecord>) throws {
        try merge(rows.records)
        try infoRow.setSyncPoint(rows.senderID, rows.lastRow)
    }

    public func mergeReplicaSummary(_ summary: ReplicaSummary) throws { try infoRow.mergeSummary(summary) }
    public func incomingSyncPoint(_ remoteID: String) throws -> Int64 { try infoRow.syncPoint(remoteID) }
}
