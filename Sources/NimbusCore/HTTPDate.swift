#if canImport(Glibc)
import Glibc
#endif

/// RFC 7231 IMF-fixdate formatting and parsing (`Sun, 06 Nov 1994 08:49:37 GMT`).
public enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Latest time formatted: 9999-12-31T23:59:59Z (HTTP dates have four-digit years).
    public static let maxSeconds: Int64 = 253_402_300_799

    /// Formats whole seconds since the epoch, clamped to years 1970…9999.
    public static func format(_ seconds: Int64) -> String {
        var t = time_t(min(max(seconds, 0), maxSeconds))
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(tmv.tm_wday)]), \(two(tmv.tm_mday)) \(months[Int(tmv.tm_mon)]) \(tmv.tm_year + 1900) "
            + "\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec)) GMT"
    }

    /// Parses IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
    public static func parse(_ text: String) -> Int64? {
        var fields = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        if fields.count == 5, months.contains(fields[1]) {
            // asctime: `Sun Nov  6 08:49:37 1994`
            fields = [fields[0], fields[2], fields[1], fields[4], fields[3], "GMT"]
        }
        guard fields.count == 6, fields[5] == "GMT" else { return nil }
        fields.removeFirst() // weekday
        guard let day = Int32(fields[0]), let month = months.firstIndex(of: fields[1]), var year = Int32(fields[2]) else {
            return nil
        }
        guard (0...9999).contains(year) else { return nil }
        if year < 100 { year += year < 70 ? 2000 : 1900 }
        let hms = fields[3].split(separator: ":")
        guard hms.count == 3, let h = Int32(hms[0]), let m = Int32(hms[1]), let s = Int32(hms[2]) else { return nil }
        var tmv = tm()
        tmv.tm_year = year - 1900
        tmv.tm_mon = Int32(month)
        tmv.tm_mday = day
        tmv.tm_hour = h
        tmv.tm_min = m
        tmv.tm_sec = s
        return Int64(timegm(&tmv))
    }
}
