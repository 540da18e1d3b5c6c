/// Byte-wise operations on object and container names.
///
/// Swift's `String` compares and searches by grapheme cluster, so `"/\u{903}"` (a slash
/// followed by a combining mark) neither starts with `"/"` nor contains it. Names in OpenStack
/// Swift are byte strings; these helpers treat them that way.
public enum NameBytes {
    /// True when `name`'s UTF-8 bytes start with `prefix`'s.
    public static func hasPrefix(_ name: some StringProtocol, _ prefix: some StringProtocol) -> Bool {
        name.utf8.starts(with: prefix.utf8)
    }

    /// `name` without the leading `count` bytes (which must end on a scalar boundary).
    public static func dropPrefix(_ name: String, bytes count: Int) -> String {
        String(decoding: name.utf8.dropFirst(count), as: UTF8.self)
    }

    /// Splits at the first occurrence of `separator`: the part before it and the part after it.
    public static func splitOnce(_ name: String, _ separator: String) -> (String, String)? {
        let bytes = Array(name.utf8)
        let sep = Array(separator.utf8)
        guard !sep.isEmpty, bytes.count >= sep.count else { return nil }
        for i in 0...(bytes.count - sep.count) where Array(bytes[i..<(i + sep.count)]) == sep {
            return (String(decoding: bytes[..<i], as: UTF8.self), String(decoding: bytes[(i + sep.count)...], as: UTF8.self))
        }
        return nil
    }

    /// Splits at every `separator` byte (at most `maxSplits` times), keeping empty parts.
    public static func split(_ name: some StringProtocol, separator: UInt8 = UInt8(ascii: "/"), maxSplits: Int = .max) -> [String] {
        name.utf8.split(separator: separator, maxSplits: maxSplits, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// `name` without leading and trailing `byte`s (slashes by default).
    public static func trim(_ name: some StringProtocol, _ byte: UInt8 = UInt8(ascii: "/")) -> String {
        let bytes = Array(name.utf8)
        guard let first = bytes.firstIndex(where: { $0 != byte }), let last = bytes.lastIndex(where: { $0 != byte }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    /// Whether `name` holds the byte `byte` (a slash by default).
    public static func contains(_ name: some StringProtocol, _ byte: UInt8 = UInt8(ascii: "/")) -> Bool {
        name.utf8.contains(byte)
    }
}
