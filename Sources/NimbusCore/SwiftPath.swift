/// A parsed Swift API path `/v1/<account>[/<container>[/<object>]]`.
///
/// The raw path is split on `/` before percent-decoding, so `%2F` inside a container name
/// yields a container name containing `/`, which is rejected with 400 rather than silently
/// turned into an object path.
public struct SwiftPath: Sendable, Equatable {
    public var version: String
    public var account: String
    public var container: String?
    public var object: String?

    public init(version: String = "v1", account: String, container: String? = nil, object: String? = nil) {
        self.version = version
        self.account = account
        self.container = container
        self.object = object
    }

    /// Parses and validates a request path (without the query string).
    public static func parse(_ rawPath: String, constraints: Constraints = Constraints()) throws(HTTPError) -> SwiftPath {
        var rest = Substring(rawPath)
        guard rest.hasPrefix("/") else { throw .badRequest("Invalid path") }
        // The HTTP layer turns raw bytes that are not UTF-8 into U+FFFD; a client that means
        // U+FFFD percent-encodes it, so a raw one marks an invalid name.
        if rawPath.unicodeScalars.contains("\u{FFFD}") { throw .preconditionFailed("Invalid UTF8 or contains NULL") }
        rest = rest.dropFirst()
        let parts = rest.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        let version = try PercentCoding.decodeUTF8(parts[0])
        guard version == "v1" || version == "v1.0" else { throw .standard(404) }
        guard parts.count >= 2, !parts[1].isEmpty || parts.count > 2 else { throw .preconditionFailed("Bad URL") }
        let account = try PercentCoding.decodeUTF8(parts[1])
        guard !account.isEmpty else { throw .badRequest("Account name required") }
        if account.utf8.count > constraints.maxAccountNameLength {
            throw .badRequest("Account name length of \(account.utf8.count) longer than \(constraints.maxAccountNameLength)")
        }
        var path = SwiftPath(version: version, account: account)
        if parts.count >= 3 {
            let container = try PercentCoding.decodeUTF8(parts[2])
            if container.isEmpty {
                if parts.count == 4 { throw .badRequest("Container name required") }
                return path // "/v1/a/" addresses the account
            }
            if container.utf8.contains(UInt8(ascii: "/")) { throw .badRequest("Container name cannot contain /") }
            if container.utf8.count > constraints.maxContainerNameLength {
                throw .badRequest("Container name length of \(container.utf8.count) longer than \(constraints.maxContainerNameLength)")
            }
            path.container = container
        }
        if parts.count == 4 {
            let object = try PercentCoding.decodeUTF8(parts[3])
            if !object.isEmpty {
                if object.utf8.count > constraints.maxObjectNameLength {
                    throw .badRequest("Object name length of \(object.utf8.count) longer than \(constraints.maxObjectNameLength)")
                }
                path.object = object
            }
        }
        return path
    }

    /// Checks the name limits of a path built from headers (copy destinations).
    public static func validate(_ p: SwiftPath, constraints: Constraints) throws(HTTPError) {
        if let c = p.container, c.utf8.count > constraints.maxContainerNameLength {
            throw .badRequest("Container name length of \(c.utf8.count) longer than \(constraints.maxContainerNameLength)")
        }
        if let o = p.object, o.utf8.count > constraints.maxObjectNameLength {
            throw .badRequest("Object name length of \(o.utf8.count) longer than \(constraints.maxObjectNameLength)")
        }
    }

    /// The account-relative path in Swift's `/a/c/o` form (unencoded).
    public var joined: String {
        var s = "/" + account
        if let container { s += "/" + container }
        if let object { s += "/" + object }
        return s
    }
}

/// Percent-encoding helpers for paths and query strings.
public enum PercentCoding {
    /// Decodes `%XX` escapes (and, in queries, `+` as space) and requires valid UTF-8 without NUL;
    /// Swift answers 412 for names that are not.
    public static func decodeUTF8(_ text: some StringProtocol, plusAsSpace: Bool = false, allowNUL: Bool = false) throws(HTTPError) -> String {
        guard let bytes = decode(text, plusAsSpace: plusAsSpace) else { throw .badRequest("Invalid percent-encoding") }
        guard allowNUL || !bytes.contains(0), let s = String(validating: bytes, as: UTF8.self) else {
            throw .preconditionFailed("Invalid UTF8 or contains NULL")
        }
        return s
    }

    /// Raw decoded bytes, nil on a malformed escape.
    public static func decode(_ text: some StringProtocol, plusAsSpace: Bool = false) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        if !utf8.contains(UInt8(ascii: "%")) && !(plusAsSpace && utf8.contains(UInt8(ascii: "+"))) { return utf8 }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let c = utf8[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < utf8.count, let h = hex(utf8[i + 1]), let l = hex(utf8[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else if plusAsSpace && c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
                i += 1
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }

    private static let unreservedPath: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/".utf8))

    /// Encodes a name for use in a URL path; `/` is kept unless `keepSlash` is false.
    public static func encodePath(_ text: String, keepSlash: Bool = true) -> String {
        var out: [UInt8] = []
        let digits = Array("0123456789ABCDEF".utf8)
        for b in text.utf8 {
            if unreservedPath.contains(b) && (keepSlash || b != UInt8(ascii: "/")) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses a query string into decoded key/value pairs (in order).
    public static func parseQuery(_ query: some StringProtocol) throws(HTTPError) -> [(String, String)] {
        var out: [(String, String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try decodeUTF8(kv[0], plusAsSpace: true)
            let value = kv.count > 1 ? try decodeUTF8(kv[1], plusAsSpace: true, allowNUL: true) : ""
            out.append((key, value))
        }
        return out
    }
}
