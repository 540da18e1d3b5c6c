import NimbusCore
import SQLite

/// The single info row of an account or container DB (`account_info` / `container_info`):
/// timestamps that only move forward and metadata merged key by key. Shared by both brokers.
struct InfoRow {
    let db: Database
    /// `account_info` or `container_info`.
    let table: String
    /// `account` or `container`: the user metadata prefix is `x-<kind>-meta-`.
    let kind: String

    /// Sets a timestamp column to `ts` if that is newer than what it holds.
    func raise(_ column: String, to ts: Timestamp) throws {
        try db.transaction {
            let current = try db.query("SELECT \(column) FROM \(table)").first?.first?.text.flatMap { Timestamp($0) } ?? .zero
            if ts > current {
                try db.run("UPDATE \(table) SET \(column) = ?", [.text(ts.internalForm)])
            }
        }
    }

    /// Records a DELETE: the delete timestamp rises and, as Swift's `delete_db` does, every
    /// metadata item is cleared, so a container created again under the name starts bare.
    func markDeleted(_ ts: Timestamp) throws {
        try db.transaction {
            let current = try db.query("SELECT delete_timestamp FROM \(table)").first?.first?.text.flatMap { Timestamp($0) } ?? .zero
            guard ts > current else { return }
            try db.run("UPDATE \(table) SET delete_timestamp = ?", [.text(ts.internalForm)])
            var meta = BrokerMetadata(json: try db.query("SELECT metadata FROM \(table)").first?.first?.text ?? "{}")
            let cleared = Dictionary(uniqueKeysWithValues: meta.entries.keys.map { ($0, "") })
            if meta.merge(cleared, at: ts) { try db.run("UPDATE \(table) SET metadata = ?", [.text(meta.json)]) }
        }
    }

    /// Merges metadata updates; 400 if the merged user metadata exceeds the limits.
    func mergeMetadata(_ updates: [String: String], at ts: Timestamp, constraints: Constraints) throws {
        guard !updates.isEmpty else { return }
        try db.transaction {
            var meta = BrokerMetadata(json: try db.query("SELECT metadata FROM \(table)").first?.first?.text ?? "{}")
            if meta.merge(updates, at: ts) {
                try meta.checkLimits(prefix: "x-\(kind)-meta-", maxCount: constraints.maxMetaCount,
                                     maxSize: constraints.maxMetaOverallSize)
                try db.run("UPDATE \(table) SET metadata = ?", [.text(meta.json)])
            }
        }
    }
}
