/// Helpers for Swift's user metadata headers.
public enum UserMetadata {
    /// Headers an object stores besides `X-Object-Meta-*` (Swift's allowed system headers).
    public static let storedObjectHeaders: Set<String> = [
        "content-disposition", "content-encoding", "x-delete-at", "x-object-manifest", "x-static-large-object",
        "x-symlink-target", "x-symlink-target-account", "cache-control", "content-language", "expires",
        "x-robots-tag",
    ]

    /// True when `name` (any case) is a header an object keeps as metadata.
    public static func isStoredObjectHeader(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasPrefix("x-object-meta-") || lower.hasPrefix("x-object-sysmeta-")
            || lower.hasPrefix("x-object-transient-sysmeta-") || storedObjectHeaders.contains(lower)
    }

    /// Canonical capitalisation Swift clients see: `x-object-meta-color` → `X-Object-Meta-Color`.
    public static func titleCase(_ name: String) -> String {
        var out = ""
        var upperNext = true
        for ch in name {
            if upperNext { out += ch.uppercased() } else { out += ch.lowercased() }
            upperNext = (ch == "-")
        }
        return out
    }
}
