import NimbusCore

/// `application/x-www-form-urlencoded` and query strings: `k=v&k2=v2` with percent escapes and
/// `+` for space. Malformed escapes are kept literally (AWS services do not reject them here;
/// the signature check then fails instead).
public enum FormDecoding {
    public static func pairs(_ text: String) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    public static func decode(_ text: some StringProtocol) -> String {
        // A malformed escape stays as sent: the signature check then fails instead.
        String(decoding: PercentCoding.decode(text, plusAsSpace: true) ?? Array(text.utf8), as: UTF8.self)
    }

    /// RFC 3986 encoding as SigV4 wants it: everything but `A-Z a-z 0-9 - _ . ~` escaped
    /// (`/` too unless `keepSlash`).
    public static func encode(_ text: some StringProtocol, keepSlash: Bool = false) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(b))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [digits[Int(b >> 4)], digits[Int(b & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}
