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
    static func isoDate(_ ts: Timestamp) -> String {
        var t = time_t(ts.ticks / 100_000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let micros = (ts.ticks % 100_000) * 10
        func pad(_ v: Int, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        return "\(pad(Int(tmv.tm_year) + 1900, 4))-\(pad(Int(tmv.tm_mon) + 1, 2))-\(pad(Int(tmv.tm_mday), 2))T"
            + "\(pad(Int(tmv.tm_hour), 2)):\(pad(Int(tmv.tm_min), 2)):\(pad(Int(tmv.tm_sec), 2)).\(pad(Int(micros), 6))"
    }

    static func xmlEscape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 {
                    let h = String(ch.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out + "\""
    }

    /// Renders a listing; `root` is `container` or `account`, `name` its name.
    static func render<Row: ListingRow>(_ entries: [ListingEntry<Row>], format: ListingFormat, root: String, name: String) -> ByteBuffer {
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
                case .item(let row): b.writeString(row.json)
                case .subdir(let s): b.writeString("{\"subdir\": \(jsonString(s))}")
                }
            }
            b.writeString("]")
        case .xml:
            b.writeString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(root) name=\"\(xmlEscape(name))\">")
            for e in entries {
                switch e {
                case .item(let row): b.writeString(row.xml)
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
    var json: String { get }
    var xml: String { get }
}

extension ObjectRecord: ListingRow {
    var json: String {
        "{\"hash\": \(ListingFormatter.jsonString(etag)), \"last_modified\": \"\(ListingFormatter.isoDate(createdAt))\", "
            + "\"bytes\": \(size), \"name\": \(ListingFormatter.jsonString(name)), \"content_type\": \(ListingFormatter.jsonString(contentType))}"
    }

    var xml: String {
        "<object><name>\(ListingFormatter.xmlEscape(name))</name><hash>\(etag)</hash><bytes>\(size)</bytes>"
            + "<content_type>\(ListingFormatter.xmlEscape(contentType))</content_type>"
            + "<last_modified>\(ListingFormatter.isoDate(createdAt))</last_modified></object>"
    }
}

extension ContainerRecord: ListingRow {
    var json: String {
        "{\"count\": \(objectCount), \"bytes\": \(bytesUsed), \"name\": \(ListingFormatter.jsonString(name)), "
            + "\"last_modified\": \"\(ListingFormatter.isoDate(putTimestamp))\"}"
    }

    var xml: String {
        "<container><name>\(ListingFormatter.xmlEscape(name))</name><count>\(objectCount)</count>"
            + "<bytes>\(bytesUsed)</bytes><last_modified>\(ListingFormatter.isoDate(putTimestamp))</last_modified></container>"
    }
}
