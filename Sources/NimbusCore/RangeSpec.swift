/// A parsed `Range: bytes=…` header, resolved against an object length.
public enum RangeSpec {
    /// Parses and resolves a Range header.
    /// - Returns: nil when the header is absent or malformed (serve the whole object, as Swift
    ///   does); an empty array when no range is satisfiable (416); otherwise inclusive ranges.
    public static func resolve(_ header: String?, length: Int64) -> [ClosedRange<Int64>]? {
        guard let header else { return nil }
        // Whitespace is allowed around every token: `bytes = 1-2 , 5-`.
        let compact = header.filter { $0 != " " && $0 != "\t" }
        guard compact.lowercased().hasPrefix("bytes=") else { return nil }
        let specs = compact.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
        guard !specs.isEmpty, specs.count <= 100 else { return nil }
        var out: [ClosedRange<Int64>] = []
        for raw in specs {
            let spec = raw.trimmingCharacters(in: .whitespaces)
            guard let dash = spec.firstIndex(of: "-") else { return nil }
            let first = spec[..<dash]
            let last = spec[spec.index(after: dash)...]
            if first.isEmpty {
                guard let suffix = Int64(last), suffix >= 0 else { return nil }
                if suffix == 0 || length == 0 { continue }
                out.append(max(0, length - suffix)...(length - 1))
            } else {
                guard let start = Int64(first), start >= 0 else { return nil }
                var end = length - 1
                if !last.isEmpty {
                    guard let e = Int64(last) else { return nil }
                    if e < start { return nil }
                    end = min(e, length - 1)
                }
                if start >= length { continue }
                out.append(start...end)
            }
        }
        return out
    }
}

import Foundation
