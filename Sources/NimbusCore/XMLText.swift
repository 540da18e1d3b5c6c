import Foundation

/// Text for XML documents (listings, bulk responses, S3 bodies).
public enum XMLText {
    /// Escapes markup characters; characters XML 1.0 cannot carry at all (C0 controls other
    /// than tab, newline and carriage return, U+FFFE, U+FFFF — not even as `&#…;`) become
    /// U+FFFD, so every document stays well-formed for a standard parser. Names with such
    /// characters are exact in the JSON listings.
    public static func escape(_ s: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\t", "\n", "\r": out.unicodeScalars.append(ch)
            case _ where ch.value < 0x20 || ch.value == 0xFFFE || ch.value == 0xFFFF: out += "\u{FFFD}"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// The five predefined entities back to their characters (`&amp;` last, so `&amp;lt;` stays `&lt;`).
    public static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
