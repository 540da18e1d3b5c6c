import Foundation
import NimbusCore
import SQLite

/// One object row of a container listing.
public struct ObjectRecord: Sendable, Equatable {
    public var name: String
    public var createdAt: Timestamp
    public var size: Int64
    public var contentType: String
    public var etag: String
    public var deleted: Bool

    public init(name: String, createdAt: Timestamp, size: Int64, contentType: String, etag: String, deleted: Bool = false) {
        self.name = name
        self.createdAt = createdAt
        self.size = size
        self.contentType = contentType
        self.etag = etag
        self.deleted = deleted
    }
}

/// The summary of a container DB.
public struct ContainerInfo: Sendable {
    public var account: String
    public var container: String
    public var createdAt: Timestamp
    public var putTimestamp: Timestamp
    public var deleteTimestamp: Timestamp
    public var objectCount: Int64
    public var bytesUsed: Int64
    public var metadata: BrokerMetadata

    /// Deleted: a DELETE newer than the last PUT and no objects left.
    public var isDeleted: Bool { deleteTimestamp > putTimestamp && objectCount == 0 }
}

/// A container's SQLite database: its object rows, counters and metadata.
///
/// One short-lived connection per use, WAL journal (its files kept between connections, the WAL
/// checkpointed and emptied when the last one closes), `BEGIN IMMEDIATE` for writes and a busy
/// timeout, so concurrent object-server updates queue instead of failing.
public final class ContainerBroker {
    let db: Database
    public let path: String
    var infoRow: InfoRow { InfoRow(db: db, table: "container_info", kind: "container") }

    /// Opens an existing DB; throws `HTTPError(404)` when there is none.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw HTTPError.notFound() }
        self.path = path
        db = try Database(path: path)
        try db.execute("PRAGMA synchronous=NORMAL")
        try db.keepWALOnClose()
    }

    /// Creates the DB (and its directory) if missing, recording `putTimestamp` (and `createdAt`,
    /// the node's clock now); returns whether it was created.
    @discardableResult
    public static func create(path: String, account: String, container: String, putTimestamp: Timestamp,
                              createdAt: Timestamp) throws -> Bool {
        try DatabaseCreation.create(path: path, schema: """
                CREATE TABLE object (
                    ROWID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, created_at TEXT NOT NULL,
                    size INTEGER NOT NULL, content_type TEXT NOT NULL, etag TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
                CREATE UNIQUE INDEX ix_object_name ON object (name);
                CREATE INDEX ix_object_deleted_name ON object (deleted, name);
                CREATE TABLE container_info (
                    account TEXT, container TEXT, created_at TEXT, put_timestamp TEXT, delete_timestamp TEXT,
                    object_count INTEGER, bytes_used INTEGER, metadata TEXT, id TEXT);
                """) { db in
            let now = createdAt.internalForm
            try db.run("INSERT INTO container_info VALUES (?, ?, ?, ?, ?, 0, 0, '{}', ?)",
                       [.text(account), .text(container), .text(now), .text(putTimestamp.internalForm), .text("0"),
                        .text(UUID().uuidString)])
        }
    }

    /// The container's summary.
    public func info() throws -> ContainerInfo {
        let rows = try db.query("SELECT account, container, created_at, put_timestamp, delete_timestamp, object_count, bytes_used, metadata FROM container_info")
        guard let r = rows.first else { throw DBError.corrupt(path) }
        return ContainerInfo(
            account: r[0].text ?? "", container: r[1].text ?? "",
            createdAt: Timestamp(r[2].text ?? "0") ?? .zero, putTimestamp: Timestamp(r[3].text ?? "0") ?? .zero,
            deleteTimestamp: Timestamp(r[4].text ?? "0") ?? .zero, objectCount: r[5].int ?? 0, bytesUsed: r[6].int ?? 0,
            metadata: BrokerMetadata(json: r[7].text ?? "{}"))
    }

    /// Records a container PUT (revives a deleted container); newer timestamps win.
    public func updatePutTimestamp(_ ts: Timestamp) throws {
        try infoRow.raise("put_timestamp", to: ts)
    }

    /// Records a container DELETE. The caller checks emptiness first (409 otherwise).
    public func markDeleted(_ ts: Timestamp) throws {
        try infoRow.markDeleted(ts)
    }

    /// Merges metadata updates (POST or PUT headers).
    public func updateMetadata(_ updates: [String: String], at ts: Timestamp, constraints: Constraints = Constraints()) throws {
        try infoRow.mergeMetadata(updates, at: ts, constraints: constraints)
    }

    /// Merges object rows (PUTs and DELETEs from object servers, or replication): a row replaces
    /// the existing one only if its timestamp is newer. Counters change in the same transaction.
    public func merge(_ records: [ObjectRecord]) throws {
        guard !records.isEmpty else { return }
        try db.transaction {
            let find = try db.prepare("SELECT created_at, size, deleted FROM object WHERE name = ?")
            let upsert = try db.prepare("INSERT OR REPLACE INTO object (name, created_at, size, content_type, etag, deleted) VALUES (?, ?, ?, ?, ?, ?)")
            var countDelta: Int64 = 0
            var bytesDelta: Int64 = 0
            for r in records {
                try find.bind([.text(r.name)])
                if try find.step() {
                    let existing = Timestamp(find.text(0)) ?? .zero
                    if existing >= r.createdAt { continue }
                    if find.int(2) == 0 {
                        countDelta -= 1
                        bytesDelta = bytesDelta.clampedSubtracting(find.int(1))
                    }
                }
                if !r.deleted {
                    countDelta += 1
                    bytesDelta = bytesDelta.clampedAdding(r.size)
                }
                try upsert.bind([.text(r.name), .text(r.createdAt.internalForm), .int(r.size), .text(r.contentType),
                                 .text(r.etag), .int(r.deleted ? 1 : 0)])
                while try upsert.step() {}
            }
            if countDelta != 0 || bytesDelta != 0 {
                try db.run("UPDATE container_info SET object_count = object_count + ?, bytes_used = bytes_used + ?",
                           [.int(countDelta), .int(bytesDelta)])
            }
        }
    }

    /// Lists live objects with Swift's prefix/delimiter/marker/end_marker/limit/reverse semantics.
    public func list(_ q: ListingQuery) throws -> [ListingEntry<ObjectRecord>] {
        try DelimitedListing.run(q, name: \.name) { bound, inclusive, limit in
            let (sql, args) = ListingSQL.page(select: "name, created_at, size, content_type, etag", from: "object", query: q, bound: bound,
                                              inclusive: inclusive, limit: limit)
            let s = try db.prepare(sql)
            try s.bind(args)
            var out: [ObjectRecord] = []
            while try s.step() {
                out.append(ObjectRecord(name: s.text(0), createdAt: Timestamp(s.text(1)) ?? .zero, size: s.int(2),
                                        contentType: s.text(3), etag: s.text(4)))
            }
            return out
        }
    }

    /// Rows with ROWID above `sinceRow`, deleted ones included (for replication).
    public func rows(after sinceRow: Int64, limit: Int) throws -> [(rowID: Int64, record: ObjectRecord)] {
        let s = try db.prepare("SELECT ROWID, name, created_at, size, content_type, etag, deleted FROM object WHERE ROWID > ? ORDER BY ROWID LIMIT ?")
        try s.bind([.int(sinceRow), .int(Int64(limit))])
        var out: [(Int64, ObjectRecord)] = []
        while try s.step() {
            out.append((s.int(0), ObjectRecord(name: s.text(1), createdAt: Timestamp(s.text(2)) ?? .zero, size: s.int(3),
                                               contentType: s.text(4), etag: s.text(5), deleted: s.int(6) != 0)))
        }
        return out
    }
}

/// Errors of the DB layer.
public enum DBError: Error, CustomStringConvertible {
    case corrupt(String)
    public var description: String {
        switch self {
        case .corrupt(let p): return "database \(p) has no info row"
        }
    }
}
