import Foundation

/// A JSON value written exactly as Python's `json.dumps` writes it (`", "` and `": "`
/// separators, non-ASCII escaped as `\uXXXX`, object members in insertion order).
///
/// Swift stores SLO manifests and answers bulk requests in that form; clients compare the
/// MD5 of a manifest they read back, so the bytes matter, not just the structure.
public indirect enum PythonJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([PythonJSON])
    case object([(String, PythonJSON)])

    public static func == (a: PythonJSON, b: PythonJSON) -> Bool { a.encoded == b.encoded }

    /// The encoded text.
    public var encoded: String {
        var out = ""
        write(to: &out)
        return out
    }

    /// `sort_keys=True`: the same value with every object's members in key order.
    public var sortedKeys: PythonJSON {
        switch self {
        case .array(let a): return .array(a.map(\.sortedKeys))
        case .object(let members): return .object(members.sorted { $0.0 < $1.0 }.map { ($0.0, $0.1.sortedKeys) })
        default: return self
        }
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += ", " }
                v.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out += ", " }
                Self.writeString(k, to: &out)
                out += ": "
                v.write(to: &out)
            }
            out += "}"
        }
    }

    /// `s` as a JSON string literal, exactly as Python's `json.dumps` writes it.
    public static func quote(_ s: String) -> String {
        var out = ""
        writeString(s, to: &out)
        return out
    }

    private static func writeString(_ s: String, to out: inout String) {
        // Printable ASCII without quotes or backslashes (nearly every name) is written as is.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            out += "\""
            out += s
            out += "\""
            return
        }
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value >= 0x20 && scalar.value < 0x7F {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value > 0xFFFF {
                    // Python writes astral characters as a UTF-16 surrogate pair.
                    let v = scalar.value - 0x10000
                    out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                } else {
                    out += hex4(scalar.value)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - h.count) + h
    }

    /// Converts a `JSONSerialization` result (members sorted by key, as order is lost there).
    public init?(foundation value: Any) {
        switch value {
        case is NSNull: self = .null
        case let n as NSNumber:
            // Booleans come back as NSNumber too; their ObjC type is `c` (char).
            if String(cString: n.objCType) == "c" { self = .bool(n.boolValue) } else { self = .int(n.int64Value) }
        case let s as String: self = .string(s)
        case let a as [Any]:
            var items: [PythonJSON] = []
            for v in a {
                guard let j = PythonJSON(foundation: v) else { return nil }
                items.append(j)
            }
            self = .array(items)
        case let d as [String: Any]:
            var members: [(String, PythonJSON)] = []
            for k in d.keys.sorted() {
                guard let j = PythonJSON(foundation: d[k]!) else { return nil }
                members.append((k, j))
            }
            self = .object(members)
        default: return nil
        }
    }
}
