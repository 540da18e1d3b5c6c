import Foundation
import NimbusCore
import SQLite

/// One container row of an account listing.
public struct ContainerRecord: Sendable, Equatable {
    public var name: String
    public var putTimestamp: Timestamp
    public var deleteTimestamp: Timestamp
    public var objectCount: Int64
    public var bytesUsed: Int64

    public init(name: String, putTimestamp: Timestamp, deleteTimestamp: Timestamp, objectCount: Int64, bytesUsed: Int64) {
        self.name = name
        self.putTimestamp = putTimestamp
        self.deleteTimestamp = deleteTimestamp
        self.objectCount = objectCount
        self.bytesUsed = bytesUsed
    }

    /// A container row is deleted when its DELETE is newer than its PUT.
    public var isDeleted: Bool { deleteTimestamp > putTimestamp }
}

/// The summary of an account DB.
public struct AccountInfo: Sendable {
    public var account: String
    public var createdAt: Timestamp
    public var putTimestamp: Timestamp
    public var deleteTimestamp: Timestamp
    public var containerCount: Int64
    public var objectCount: Int64
    public var bytesUsed: Int64
    public var metadata: BrokerMetadata

    public var isDeleted: Bool { deleteTimestamp > putTimestamp }
}

/// An account's SQLite database: container rows (with their reported usage) and metadata.
public final class AccountBroker {
    let db: Database
    public let path: String
    var infoRow: InfoRow { InfoRow(db: db, table: "account_info", kind: "account") }

    /// Opens an existing DB; throws `HTTPError(404)` when there is none.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw HTTPError.notFound() }
        self.path = path
        db = try Database(path: path)
        try db.execute("PRAGMA synchronous=NORMAL")
        try db.keepWALOnClose()
    }

    /// Creates the DB if missing; returns whether it was created.
    @discardableResult
    public static func create(path: String, account: String, putTimestamp: Timestamp, createdAt: Timestamp) throws -> Bool {
        try DatabaseCreation.create(path: path, schema: """
                CREATE TABLE container (
                    ROWID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, put_timestamp TEXT NOT NULL,
                    delete_timestamp TEXT NOT NULL, object_count INTEGER NOT NULL, bytes_used INTEGER NOT NULL,
                    deleted INTEGER NOT NULL DEFAULT 0);
                CREATE UNIQUE INDEX ix_container_name ON container (name);
                CREATE INDEX ix_container_deleted_name ON container (deleted, name);
                CREATE TABLE account_info (
                    account TEXT, created_at TEXT, put_timestamp TEXT, delete_timestamp TEXT, metadata TEXT, id TEXT);
                """) { db in
            try db.run("INSERT INTO account_info VALUES (?, ?, ?, '0', '{}', ?)",
                       [.text(account), .text(createdAt.internalForm), .text(putTimestamp.internalForm),
                        .text(UUID().uuidString)])
        }
    }

    /// The account's summary; usage is summed over live containers.
    public func info() throws -> AccountInfo {
        let rows = try db.query("SELECT account, created_at, put_timestamp, delete_timestamp, metadata FROM account_info")
        guard let r = rows.first else { throw DBError.corrupt(path) }
        let totals = try db.query("SELECT count(*), coalesce(sum(object_count), 0), coalesce(sum(bytes_used), 0) FROM container WHERE deleted = 0")
        let t = totals.first ?? [.int(0), .int(0), .int(0)]
        return AccountInfo(
            account: r[0].text ?? "", createdAt: Timestamp(r[1].text ?? "0") ?? .zero,
            putTimestamp: Timestamp(r[2].text ?? "0") ?? .zero, deleteTimestamp: Timestamp(r[3].text ?? "0") ?? .zero,
            containerCount: t[0].int ?? 0, objectCount: t[1].int ?? 0, bytesUsed: t[2].int ?? 0,
            metadata: BrokerMetadata(json: r[4].text ?? "{}"))
    }

    /// Records an account PUT (revives a deleted account).
    public func updatePutTimestamp(_ ts: Timestamp) throws {
        try infoRow.raise("put_timestamp", to: ts)
    }

    /// Records an account DELETE.
    public func markDeleted(_ ts: Timestamp) throws {
        try infoRow.markDeleted(ts)
    }

    /// Merges metadata updates (POST or PUT headers).
    public func updateMetadata(_ updates: [String: String], at ts: Timestamp, constraints: Constraints = Constraints()) throws {
        try infoRow.mergeMetadata(updates, at: ts, constraints: constraints)
    }

    /// Merges container reports: timestamps take the newest of each; usage comes from the newest report.
    public func merge(_ records: [ContainerRecord]) throws {
        guard !records.isEmpty else { return }
        try db.transaction {
            let find = try db.prepare("SELECT put_timestamp, delete_timestamp, object_count, bytes_used FROM container WHERE name = ?")
            let upsert = try db.prepare("INSERT OR REPLACE INTO container (name, put_timestamp, delete_timestamp, object_count, bytes_used, deleted) VALUES (?, ?, ?, ?, ?, ?)")
            for r in records {
                var merged = r
                try find.bind([.text(r.name)])
                if try find.step() {
                    let put = Timestamp(find.text(0)) ?? .zero
                    let del = Timestamp(find.text(1)) ?? .zero
                    merged.putTimestamp = max(put, r.putTimestamp)
                    merged.deleteTimestamp = max(del, r.deleteTimestamp)
                    if merged.putTimestamp == put && merged.deleteTimestamp == del && r.putTimestamp < put {
                        merged.objectCount = find.int(2)
                        merged.bytesUsed = find.int(3)
                    }
                    // Unchanged rows keep their row id: replicas would otherwise trade them back and forth.
                    if merged.putTimestamp == put && merged.deleteTimestamp == del && merged.objectCount == find.int(2)
                        && merged.bytesUsed == find.int(3) {
                        continue
                    }
                }
                try upsert.bind([.text(merged.name), .text(merged.putTimestamp.internalForm),
                                 .text(merged.deleteTimestamp.internalForm), .int(merged.objectCount),
                                 .int(merged.bytesUsed), .int(merged.isDeleted ? 1 : 0)])
                while try upsert.step() {}
            }
        }
    }

    /// Lists live containers with Swift's listing parameters.
    public func list(_ q: ListingQuery) throws -> [ListingEntry<ContainerRecord>] {
        try DelimitedListing.run(q, name: \.name) { bound, inclusive, limit in
            let (sql, args) = ListingSQL.page(select: "name, put_timestamp, delete_timestamp, object_count, bytes_used", from: "container", query: q, bound: bound,
                                              inclusive: inclusive, limit: limit)
            let s = try db.prepare(sql)
            try s.bind(args)
            var out: [ContainerRecord] = []
            while try s.step() {
                out.append(ContainerRecord(name: s.text(0), putTimestamp: Timestamp(s.text(1)) ?? .zero,
                                           deleteTimestamp: Timestamp(s.text(2)) ?? .zero, objectCount: s.int(3), bytesUsed: s.int(4)))
            }
            return out
        }
    }
}
