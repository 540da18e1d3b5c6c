/// A parsed `Range: bytes=…` header, resolved against an object length.
public enum RangeSpec {
    /// Most satisfiable ranges in one request (Swift's `MAX_RANGES`).
    public static let maxRanges = 50
    /// Most pairs of overlapping ranges (Swift's `MAX_RANGE_OVERLAPS`).
    public static let maxOverlaps = 2
    /// Ranges out of ascending order are refused from this many ranges on (`MAX_NONASCENDING_RANGES`).
    public static let maxNonAscending = 8

    /// Parses and resolves a Range header.
    /// - Returns: nil when the header is absent or malformed (serve the whole object, as Swift
    ///   does); an empty array when no range is satisfiable or the set is egregious in RFC 7233
    ///   §6.1's sense (416: more than 50 ranges, more than 2 overlapping pairs, or 8 and more
    ///   ranges out of order, as Swift decides); otherwise inclusive ranges.
    public static func resolve(_ header: String?, length: Int64) -> [ClosedRange<Int64>]? {
        guard let header, length >= 0 else { return nil }
        // Whitespace is allowed around every token: `bytes = 1-2 , 5-`.
        let compact = header.filter { $0 != " " && $0 != "\t" }
        guard compact.lowercased().hasPrefix("bytes=") else { return nil }
        let specs = compact.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
        guard !specs.isEmpty else { return nil }
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
            // Past this many the answer is 416 whatever follows; stop collecting.
            if out.count > maxRanges { break }
        }
        return egregious(out) ? [] : out
    }

    /// Swift's denial-of-service rules for a set of satisfiable ranges.
    static func egregious(_ ranges: [ClosedRange<Int64>]) -> Bool {
        if ranges.count > maxRanges { return true }
        var overlaps = 0
        for i in ranges.indices {
            for j in ranges.indices where j > i {
                // Half-open bounds, strict comparisons: identical ranges do not count (as in Swift).
                let (s1, e1) = (ranges[i].lowerBound, ranges[i].upperBound + 1)
                let (s2, e2) = (ranges[j].lowerBound, ranges[j].upperBound + 1)
                if (s1 < s2 && s2 < e1) || (s1 < e2 && e2 < e1) || (s2 < s1 && s1 < e2) || (s2 < e1 && e1 < e2) {
                    overlaps += 1
                    if overlaps > maxOverlaps { return true }
                }
            }
        }
        if ranges.count >= maxNonAscending {
            for (a, b) in zip(ranges, ranges.dropFirst())
            where a.lowerBound > b.lowerBound || (a.lowerBound == b.lowerBound && a.upperBound > b.upperBound) {
                return true
            }
        }
        return false
    }
}

import Foundation
