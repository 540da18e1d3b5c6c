import DBBroker
import Foundation
import NIOCore
import NimbusCore

/// Renders listings in Swift's three formats: plain text, JSON and XML.
public enum ListingFormat: String, Sendable {
    case plain, json, xml

    /// The format a request asks for: `?format=` first, then the Accept header.
    public static func from(query: String?, accept: String?) -> ListingFormat {
        if let q = query?.lowercased() {
            if q == "json" { return .json }
            if q == "xml" { return .xml }
            if q == "plain" { return .plain }
        }
        let a = (accept ?? "").lowercased()
        if a.contains("application/json") { return .json }
        if a.contains("application/xml") || a.contains("text/xml") { return .xml }
        return .plain
    }

    public var contentType: String {
        switch self {
        case .plain: return "text/plain; charset=utf-8"
        case .json: return "application/json; charset=utf-8"
        case .xml: return "application/xml; charset=utf-8"
        }
    }
}

enum ListingFormatter {
    /// Swift's `last_modified`: ISO 8601 with microseconds, no zone.
    static func isoDate(_ ts: Timestamp) -> String { ts.isoListingForm }

    static func xmlEscape(_ s: String) -> String { XMLText.escape(s) }

    /// A JSON string as Swift's container server writes it (`json.dumps`: non-ASCII escaped).
    static func jsonString(_ s: String) -> String { PythonJSON.quote(s) }

    /// Renders a listing; `root` is `container` or `account`, `name` its name.
    static func render<Row: ListingRow>(_ entries: [ListingEntry<Row>], format: ListingFormat, root: String, account: String,
                                        name: String) -> ByteBuffer {
        var b = ByteBuffer()
        switch format {
        case .plain:
            for e in entries {
                switch e {
                case .item(let row): b.writeString(row.name + "\n")
                case .subdir(let s): b.writeString(s + "\n")
                }
            }
        case .json:
            b.writeString("[")
            for (i, e) in entries.enumerated() {
                if i > 0 { b.writeString(", ") }
                switch e {
                case .item(let row): b.writeString(row.json(account: account))
                case .subdir(let s): b.writeString("{\"subdir\": \(jsonString(s))}")
                }
            }
            b.writeString("]")
        case .xml:
            b.writeString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(root) name=\"\(xmlEscape(name))\">")
            for e in entries {
                switch e {
                case .item(let row): b.writeString(row.xml(account: account))
                case .subdir(let s): b.writeString("<subdir name=\"\(xmlEscape(s))\"><name>\(xmlEscape(s))</name></subdir>")
                }
            }
            b.writeString("</\(root)>")
        }
        return b
    }
}

/// A row of a listing, in Swift's JSON and XML shapes.
protocol ListingRow: Sendable {
    var name: String { get }
    func json(account: String) -> String
    func xml(account: String) -> String
}

extension ObjectRecord: ListingRow {
    /// What the listing shows of this row: the stored content type and hash carry parameters
    /// that SLO (`swift_bytes`, `slo_etag`) and symlinks (`symlink_target…`) put there.
    struct Shown {
        var hash: String
        var bytes: Int64
        var contentType: String
        /// Extra JSON members, in the order Swift's middleware appends them.
        var extra: [(String, String)] = []
    }

    func shown(account: String) -> Shown {
        let (type, swiftBytes) = ContentTypeParams.split(contentType)
        let (bare, params) = ContentTypeParams.headerParams(etag)
        var out = Shown(hash: bare, bytes: swiftBytes ?? size, contentType: type)
        var target: String?
        var targetAccount = account
        var sloEtag: String?
        for (key, value) in params {
            switch key {
            case "symlink_target": target = value
            case "symlink_target_account": targetAccount = value
            case "symlink_target_etag": out.extra.append(("symlink_etag", ListingFormatter.jsonString(value)))
            case "symlink_target_bytes": out.extra.append(("symlink_bytes", String(Int64(value) ?? 0)))
            case "slo_etag": sloEtag = value
            default: out.hash += "; \(key)=\(value)"
            }
        }
        if let target {
            // The target travels percent-encoded in the row (it came as a header value); Swift
            // lists it decoded, as the names it holds.
            let decoded = (try? PercentCoding.decodeUTF8(target)) ?? target
            out.extra.append(("symlink_path", ListingFormatter.jsonString("/v1/\(targetAccount)/\(decoded)")))
        }
        if let sloEtag { out.extra.append(("slo_etag", ListingFormatter.jsonString("\"\(sloEtag)\""))) }
        return out
    }

    func json(account: String) -> String {
        let s = shown(account: account)
        var out = "{\"hash\": \(ListingFormatter.jsonString(s.hash)), \"last_modified\": \"\(ListingFormatter.isoDate(createdAt))\", "
            + "\"bytes\": \(s.bytes), \"name\": \(ListingFormatter.jsonString(name)), \"content_type\": \(ListingFormatter.jsonString(s.contentType))"
        for (k, v) in s.extra { out += ", \"\(k)\": \(v)" }
        return out + "}"
    }

    func xml(account: String) -> String {
        let s = shown(account: account)
        return "<object><name>\(ListingFormatter.xmlEscape(name))</name><hash>\(ListingFormatter.xmlEscape(s.hash))</hash><bytes>\(s.bytes)</bytes>"
            + "<content_type>\(ListingFormatter.xmlEscape(s.contentType))</content_type>"
            + "<last_modified>\(ListingFormatter.isoDate(createdAt))</last_modified></object>"
    }
}

extension ContainerRecord: ListingRow {
    func json(account: String) -> String {
        "{\"count\": \(objectCount), \"bytes\": \(bytesUsed), \"name\": \(ListingFormatter.jsonString(name)), "
            + "\"last_modified\": \"\(ListingFormatter.isoDate(putTimestamp))\"}"
    }

    func xml(account: String) -> String {
        "<container><name>\(ListingFormatter.xmlEscape(name))</name><count>\(objectCount)</count>"
            + "<bytes>\(bytesUsed)</bytes><last_modified>\(ListingFormatter.isoDate(putTimestamp))</last_modified></container>"
    }
}
