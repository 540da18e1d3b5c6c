import Foundation

/// Times as duplicity writes and accepts them.
public enum DuplicityTime {
    /// `20261125T090315Z` for an epoch second (UTC).
    public static func format(_ epoch: Int64) -> String {
        var t = time_t(epoch)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1, Int(tmv.tm_mday),
                      Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec))
    }

    /// Parses `20261125T090315Z` (any case).
    public static func parse(_ text: some StringProtocol) -> Int64? {
        let s = text.uppercased()
        guard s.count == 16, s.hasSuffix("Z"), Array(s)[8] == "T" else { return nil }
        let digits = s.replacingOccurrences(of: "T", with: "").replacingOccurrences(of: "Z", with: "")
        guard digits.count == 14, digits.allSatisfy(\.isNumber) else { return nil }
        let n = digits.map { Int(String($0))! }
        func num(_ a: Int, _ b: Int) -> Int32 { Int32(n[a..<b].reduce(0) { $0 * 10 + $1 }) }
        var tmv = tm()
        tmv.tm_year = num(0, 4) - 1900
        tmv.tm_mon = num(4, 6) - 1
        tmv.tm_mday = num(6, 8)
        tmv.tm_hour = num(8, 10)
        tmv.tm_min = num(10, 12)
        tmv.tm_sec = num(12, 14)
        return Int64(timegm(&tmv))
    }

    /// A `--time` / `remove-older-than` argument: `now`, epoch seconds, `20261125T090315Z`,
    /// an ISO date (`2026-11-25`, `2026-11-25T09:03:15Z`), or an interval back from now
    /// (`3D`, `2h30m`, `1W`, `6M`, `1Y`; s m h D W M Y).
    public static func parseSpec(_ spec: String, now: Int64) throws -> Int64 {
        if spec == "now" { return now }
        if let n = Int64(spec) { return n }
        if let t = parse(spec) { return t }
        let iso = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withFullDate], [.withFullDate, .withTime, .withColonSeparatorInTime]] {
            iso.formatOptions = options
            iso.timeZone = TimeZone(identifier: "UTC")
            if let d = iso.date(from: spec) { return Int64(d.timeIntervalSince1970) }
        }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400]
        var total: Int64 = 0
        var number = ""
        for ch in spec {
            if ch.isNumber {
                number.append(ch)
            } else if let unit = units[ch], let n = Int64(number) {
                total += n * unit
                number = ""
            } else {
                throw BackupError("bad time string \(spec)")
            }
        }
        guard number.isEmpty, total > 0 else { throw BackupError("bad time string \(spec)") }
        return now - total
    }
}

/// A backup failure, worded for the user.
public struct BackupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
