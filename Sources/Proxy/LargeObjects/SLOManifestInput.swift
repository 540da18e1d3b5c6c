import Foundation
import NimbusCore

/// The manifest a client PUTs with `?multipart-manifest=put`, checked as Swift's SLO
/// middleware checks it before looking at any segment.
struct SLOManifestInput {
    /// One segment as the client described it.
    enum Segment {
        case object(path: String, etag: String?, sizeBytes: Int64?, range: String?)
        case data([UInt8])
    }

    let segments: [Segment]

    /// Object-backed segments.
    var objectCount: Int { segments.reduce(0) { if case .object = $1 { return $0 + 1 } else { return $0 } } }

    /// Parses and validates; every problem is reported at once (400, text/plain, one line each).
    init(_ body: Data, manifestPath: SwiftPath) throws {
        guard let parsed = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else {
            throw HTTPError.badRequest("Manifest must be valid JSON.\n")
        }
        guard let list = parsed as? [Any] else { throw HTTPError.badRequest("Manifest must be a list.\n") }
        var errors: [String] = []
        var segments: [Segment] = []
        let selfPath = "/\(manifestPath.container ?? "")/\(manifestPath.object ?? "")"
        for (index, raw) in list.enumerated() {
            guard let item = raw as? [String: Any] else {
                errors.append("Index \(index): not a JSON object")
                continue
            }
            if item["data"] != nil {
                let extra = item.keys.filter { $0 != "data" }.sorted()
                if !extra.isEmpty {
                    errors.append("Index \(index): extraneous keys " + extra.map { "\"\($0)\"" }.joined(separator: ", "))
                    continue
                }
                guard let text = item["data"] as? String, let bytes = Self.strictBase64(text) else {
                    errors.append("Index \(index): data must be valid base64")
                    continue
                }
                guard !bytes.isEmpty else {
                    errors.append("Index \(index): too small; each segment must be at least 1 byte.")
                    continue
                }
                segments.append(.data(bytes))
                continue
            }
            guard item["path"] != nil else {
                errors.append("Index \(index): expected keys to include one of 'data' or 'path'")
                continue
            }
            let extra = item.keys.filter { !["path", "etag", "size_bytes", "range"].contains($0) }.sorted()
            if !extra.isEmpty {
                errors.append("Index \(index): extraneous keys " + extra.map { "\"\($0)\"" }.joined(separator: ", "))
                continue
            }
            guard let path = item["path"] as? String else {
                errors.append("Index \(index): \"path\" must be a string")
                continue
            }
            var etag: String?
            if let e = item["etag"], !(e is NSNull) {
                guard let s = e as? String else {
                    errors.append("Index \(index): \"etag\" must be a string or null (if provided)")
                    continue
                }
                etag = s
            }
            // By bytes: "/" followed by a combining mark is one Character (a segment named
            // "\u{900}…" was refused as "not an object").
            guard NameBytes.contains(NameBytes.trim(path)) else {
                errors.append("Index \(index): path does not refer to an object. Path must be of the form /container/object.")
                continue
            }
            var size: Int64?
            if let s = item["size_bytes"], !(s is NSNull) {
                // A size must be a whole, non-negative number an Int64 holds (1e30 is not).
                if let n = s as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue == n.doubleValue.rounded(),
                   n.doubleValue >= 0, n.doubleValue < 9.2e18 {
                    size = n.int64Value
                } else if let t = s as? String, let n = Int64(t.trimmingCharacters(in: .whitespaces)), n >= 0 {
                    size = n
                } else {
                    errors.append("Index \(index): invalid size_bytes")
                    continue
                }
                if let size, size < 1 && index != list.count - 1 {
                    errors.append("Index \(index): too small; each segment must be at least 1 byte.")
                    continue
                }
            }
            if "/" + (NameBytes.hasPrefix(path, "/") ? NameBytes.dropPrefix(path, bytes: 1) : path) == selfPath {
                errors.append("Index \(index): manifest must not include itself as a segment")
                continue
            }
            var range: String?
            if let r = item["range"], !(r is NSNull), !((r as? String)?.isEmpty ?? false) {
                guard let text = r as? String, Self.validRangeSyntax(text) else {
                    errors.append("Index \(index): invalid range")
                    continue
                }
                if text.contains(",") {
                    errors.append("Index \(index): multiple ranges (only one allowed)")
                    continue
                }
                if let size, RangeSpec.resolve("bytes=" + text, length: size)?.count != 1 {
                    errors.append("Index \(index): unsatisfiable range")
                    continue
                }
                range = text
            }
            segments.append(.object(path: path, etag: etag, sizeBytes: size, range: range))
        }
        if !segments.isEmpty, errors.isEmpty, segments.allSatisfy({ if case .data = $0 { return true } else { return false } }) {
            errors.append("Inline data segments require at least one object-backed segment.")
        }
        if !errors.isEmpty {
            throw HTTPError(400, errors.map { $0 + "\n" }.joined(), headers: [("Content-Type", "text/plain")])
        }
        self.segments = segments
    }

    /// `M-N`, `M-` or `-N` (comma-separated), as a Range header's value.
    static func validRangeSyntax(_ text: String) -> Bool {
        for spec in text.split(separator: ",", omittingEmptySubsequences: false) {
            let s = spec.trimmingCharacters(in: .whitespaces)
            guard let dash = s.firstIndex(of: "-") else { return false }
            let a = s[..<dash], b = s[s.index(after: dash)...]
            if a.isEmpty && b.isEmpty { return false }
            if !a.isEmpty && Int64(a) == nil { return false }
            if !b.isEmpty && Int64(b) == nil { return false }
            if let x = Int64(a), let y = Int64(b), x > y { return false }
        }
        return true
    }

    /// Base64 that rejects stray characters (Python's lenient decoder drops them; Swift does not).
    static func strictBase64(_ text: String) -> [UInt8]? {
        let body = text.trimmingCharacters(in: CharacterSet(charactersIn: "="))
        guard body.unicodeScalars.allSatisfy({ ($0.isASCII && CharacterSet.alphanumerics.contains($0)) || $0 == "+" || $0 == "/" }) else {
            return nil
        }
        var padded = body
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map(Array.init)
    }
}
