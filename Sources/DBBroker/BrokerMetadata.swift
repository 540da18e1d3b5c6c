import Foundation
import NimbusCore

/// Account and container metadata as Swift keeps it in the DB: `{"X-Container-Meta-Color":
/// ["blue", "1700000000.00000"]}`, merged key by key, newest timestamp wins; an empty value
/// is a deletion that still carries its timestamp (so replicas converge).
public struct BrokerMetadata: Sendable, Equatable {
    public var entries: [String: (value: String, timestamp: Timestamp)]

    public init(entries: [String: (value: String, timestamp: Timestamp)] = [:]) {
        self.entries = entries
    }

    public static func == (a: BrokerMetadata, b: BrokerMetadata) -> Bool {
        a.entries.count == b.entries.count && a.entries.allSatisfy { k, v in
            b.entries[k].map { $0.value == v.value && $0.timestamp == v.timestamp } ?? false
        }
    }

    /// Parses the JSON column ("" or "{}" for none).
    public init(json: String) {
        var e: [String: (String, Timestamp)] = [:]
        if let data = json.data(using: .utf8), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: [String]] {
            for (k, pair) in obj where pair.count == 2 {
                if let ts = Timestamp(pair[1]) { e[k] = (pair[0], ts) }
            }
        }
        entries = e
    }

    /// The JSON column text.
    public var json: String {
        var obj: [String: [String]] = [:]
        for (k, v) in entries { obj[k] = [v.value, v.timestamp.internalForm] }
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Merges updates; returns true when anything changed.
    @discardableResult
    public mutating func merge(_ updates: [String: String], at timestamp: Timestamp) -> Bool {
        var changed = false
        for (k, v) in updates {
            let key = UserMetadata.titleCase(k)
            if let old = entries[key], old.timestamp >= timestamp { continue }
            entries[key] = (v, timestamp)
            changed = true
        }
        return changed
    }

    /// Throws 400 when the user metadata (keys starting with `prefix`) would exceed the
    /// limits once merged, as OpenStack Swift checks the aggregate on the backend.
    public func checkLimits(prefix: String, maxCount: Int, maxSize: Int) throws {
        var count = 0
        var size = 0
        for (k, v) in entries where !v.value.isEmpty && k.lowercased().hasPrefix(prefix) {
            count += 1
            size += k.utf8.count - prefix.utf8.count + v.value.utf8.count
        }
        if count > maxCount { throw HTTPError.badRequest("Too many metadata items; max \(maxCount)") }
        if size > maxSize { throw HTTPError.badRequest("Total metadata too large; max \(maxSize)") }
    }

    /// Keys with non-empty values (what HEAD shows).
    public var visible: [(String, String)] {
        entries.filter { !$0.value.value.isEmpty }.map { ($0.key, $0.value.value) }.sorted { $0.0 < $1.0 }
    }
}
