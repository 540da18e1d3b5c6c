import NimbusCore
import SQLite

/// The parameters of a container or account listing, as Swift's API takes them.
public struct ListingQuery: Sendable {
    public var limit: Int
    public var marker: String
    public var endMarker: String
    public var prefix: String
    public var delimiter: String?
    public var reverse: Bool
    /// Swift's `path=` listing: only the items directly under `prefix`, no `subdir` rows.
    public var path: String?

    public init(limit: Int = 10_000, marker: String = "", endMarker: String = "", prefix: String = "",
                delimiter: String? = nil, reverse: Bool = false) {
        self.limit = limit
        self.marker = marker
        self.endMarker = endMarker
        self.prefix = prefix
        self.delimiter = delimiter
        self.reverse = reverse
    }

    /// The smallest string greater than every string starting with `prefix` (its last scalar + 1).
    static func upperBound(ofPrefix prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }
            if let s = Unicode.Scalar(next) {
                scalars.append(s)
                var out = String.UnicodeScalarView()
                out.append(contentsOf: scalars)
                return String(out)
            }
        }
        return nil
    }
}

/// One row of a listing: an item or a `subdir` produced by the delimiter.
public enum ListingEntry<Item: Sendable>: Sendable {
    case item(Item)
    case subdir(String)
}

/// Runs Swift's delimiter listing over a name-ordered source.
///
/// `fetch(bound, inclusive, limit)` returns up to `limit` items after `bound` (before it when
/// reversed; `inclusive` admits `bound` itself). When a name holds the delimiter after the
/// prefix, the common part becomes one `subdir` and the scan jumps past everything under it.
enum DelimitedListing {
    static func run<Item>(_ q: ListingQuery, name: (Item) -> String,
                          fetch: (_ bound: String, _ inclusive: Bool, _ limit: Int) throws -> [Item]) rethrows -> [ListingEntry<Item>] {
        var results: [ListingEntry<Item>] = []
        var bound = q.marker
        var inclusive = false
        let delimiter = q.delimiter.flatMap { $0.isEmpty ? nil : $0 }
        while results.count < q.limit {
            let want = q.limit - results.count
            let rows = try fetch(bound, inclusive, want)
            if rows.isEmpty { break }
            var jumped = false
            for row in rows {
                let n = name(row)
                if !q.prefix.isEmpty && !NameBytes.hasPrefix(n, q.prefix) {
                    if q.reverse { bound = n; inclusive = false; continue }
                    return results
                }
                // A directory to jump past, and whether a reverse scan still wants the
                // directory's own name (a `dir/` object is a child in `path` listings).
                var skip: (dir: String, keepInReverse: Bool)?
                let rest = NameBytes.dropPrefix(n, bytes: q.prefix.utf8.count)
                if q.path != nil {
                    // The directory marker object itself (`dir/`) is not its own child.
                    if n == q.prefix { bound = n; inclusive = false; continue }
                    if let (head, tail) = NameBytes.splitOnce(rest, "/"), !tail.isEmpty {
                        skip = (q.prefix + head + "/", true)
                    }
                } else if let delimiter, let (head, _) = NameBytes.splitOnce(rest, delimiter) {
                    let dir = q.prefix + head + delimiter
                    if dir != q.marker { results.append(.subdir(dir)) }
                    skip = (dir, false)
                }
                if let skip {
                    guard let next = q.reverse ? skip.dir : ListingQuery.upperBound(ofPrefix: skip.dir) else { return results }
                    bound = next
                    inclusive = q.reverse ? skip.keepInReverse : true
                    jumped = true
                    break
                }
                results.append(.item(row))
                bound = n
                inclusive = false
                if results.count >= q.limit { break }
            }
            if !jumped && rows.count < want { break }
        }
        return results
    }
}

/// Builds the name-range query both brokers use for one page of a listing.
enum ListingSQL {
    static func page(select: String, from table: String, query q: ListingQuery, bound: String, inclusive: Bool,
                     limit: Int) -> (String, [SQLValue]) {
        var sql = "SELECT \(select) FROM \(table) WHERE deleted = 0"
        var args: [SQLValue] = []
        let cmp = q.reverse ? (inclusive ? "<=" : "<") : (inclusive ? ">=" : ">")
        if !bound.isEmpty {
            sql += " AND name \(cmp) ?"
            args.append(.text(bound))
        }
        if !q.endMarker.isEmpty {
            sql += q.reverse ? " AND name > ?" : " AND name < ?"
            args.append(.text(q.endMarker))
        }
        if !q.prefix.isEmpty {
            sql += " AND name >= ?"
            args.append(.text(q.prefix))
            if let upper = ListingQuery.upperBound(ofPrefix: q.prefix) {
                sql += " AND name < ?"
                args.append(.text(upper))
            }
        }
        sql += " ORDER BY name \(q.reverse ? "DESC" : "ASC") LIMIT \(limit)"
        return (sql, args)
    }
}
