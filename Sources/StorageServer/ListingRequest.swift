import DBBroker
import HTTPServerKit
import NimbusCore

/// Reads Swift's listing parameters from a request.
enum ListingRequest {
    static func parse(_ request: HTTPRequest, maxLimit: Int = 10_000) throws -> (ListingQuery, ListingFormat) {
        try parse(items: try request.queryItems(), accept: request.header("accept"), maxLimit: maxLimit)
    }

    /// The same from decoded query items and the Accept header.
    static func parse(items: [(String, String)], accept: String?, maxLimit: Int = 10_000) throws -> (ListingQuery, ListingFormat) {
        func value(_ k: String) -> String? { items.first { $0.0 == k }?.1 }
        var q = ListingQuery(limit: maxLimit)
        if let l = value("limit"), let n = try limit(l, maxLimit: maxLimit) { q.limit = n }
        q.marker = value("marker") ?? ""
        q.endMarker = value("end_marker") ?? ""
        q.prefix = value("prefix") ?? ""
        q.delimiter = value("delimiter")
        if let d = q.delimiter, d.isEmpty { q.delimiter = nil }
        if let r = value("reverse")?.lowercased() { q.reverse = ["true", "1", "yes", "on", "t", "y"].contains(r) }
        if let path = value("path") {
            // `path=p` lists the objects directly under `p/` (Swift's pseudo-directories).
            var trimmed = Substring(path)
            while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
            q.prefix = path.isEmpty ? "" : trimmed + "/"
            q.delimiter = nil
            q.path = path
        }
        let format = ListingFormat.from(query: value("format"), accept: accept)
        return (q, format)
    }

    /// Swift's rule for `limit`: a value of ASCII digits only counts (anything else is ignored,
    /// nil), and one above `maxLimit` — however many digits — is refused with 412.
    static func limit(_ text: String, maxLimit: Int) throws -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard let n = Int(text), n <= maxLimit else { throw HTTPError(412, "Maximum limit is \(maxLimit)") }
        return n
    }
}
