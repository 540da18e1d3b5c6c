import Foundation

/// The parameters Swift hides in stored content types and listing hashes.
///
/// SLO appends `;swift_bytes=N` (the segments' total) to a manifest's content type so the
/// container listing can show the large object's size; it and symlinks append `; slo_etag=…`
/// or `; symlink_target=…` to the listing hash. Clients see neither in object responses.
public enum ContentTypeParams {
    /// The `swift_bytes` value of a content type, if any.
    public static func swiftBytes(_ contentType: String) -> Int64? {
        split(contentType).bytes
    }

    /// The content type without a trailing `swift_bytes` parameter.
    public static func clean(_ contentType: String) -> String {
        split(contentType).type
    }

    /// Splits `type;swift_bytes=N` (only a last parameter counts, as Swift's `extract_swift_bytes`).
    public static func split(_ contentType: String) -> (type: String, bytes: Int64?) {
        guard let semi = contentType.lastIndex(of: ";") else { return (contentType, nil) }
        let param = contentType[contentType.index(after: semi)...].drop { $0 == " " }
        guard param.hasPrefix("swift_bytes=") else { return (contentType, nil) }
        // A client can write any content type: only a size that can be one counts.
        return (String(contentType[..<semi]), Int64(param.dropFirst("swift_bytes=".count)).flatMap { $0 >= 0 ? $0 : nil })
    }

    /// Splits a header value such as `etag; slo_etag=abc; k=v` into its value and parameters.
    public static func headerParams(_ value: String) -> (value: String, params: [(String, String)]) {
        // Most listing hashes are a bare MD5: no parameters to look for (this runs per row).
        guard value.utf8.contains(UInt8(ascii: ";")) else { return (trimmed(value[...]), []) }
        let parts = value.split(separator: ";", omittingEmptySubsequences: false)
        let head = parts.first.map(trimmed) ?? ""
        var params: [(String, String)] = []
        for p in parts.dropFirst() {
            let t = trimmed(p)
            guard let eq = t.firstIndex(of: "=") else { continue }
            var v = String(t[t.index(after: eq)...])
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            params.append((String(t[..<eq]).lowercased(), v))
        }
        return (head, params)
    }

    /// `s` without leading and trailing spaces and tabs (Foundation's CharacterSet trimming
    /// costs more than the rest of a listing row).
    public static func trimmed(_ s: Substring) -> String {
        var t = s
        while let c = t.first, c == " " || c == "\t" { t = t.dropFirst() }
        while let c = t.last, c == " " || c == "\t" { t = t.dropLast() }
        return String(t)
    }
}
