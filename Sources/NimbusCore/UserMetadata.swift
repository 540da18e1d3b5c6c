/// Helpers for Swift's user metadata headers.
public enum UserMetadata {
    /// Headers an object stores besides `X-Object-Meta-*` (Swift's allowed system headers).
    public static let storedObjectHeaders: Set<String> = [
        "content-disposition", "content-encoding", "x-delete-at", "x-object-manifest", "x-static-large-object",
        "cache-control", "content-language", "expires",
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

    /// Headers an account or container keeps as metadata besides `X-<Kind>-Meta-*`.
    public static func storedBrokerHeaders(kind: String) -> Set<String> {
        kind == "container"
            ? ["x-container-read", "x-container-write", "x-versions-location", "x-history-location",
               "x-container-sync-to", "x-container-sync-key"]
            : ["x-account-access-control"]
    }

    /// True for headers a client may send to set or remove account/container metadata.
    public static func isBrokerMetadataHeader(_ name: String, kind: String) -> Bool {
        let l = name.lowercased()
        let bare = l.hasPrefix("x-remove-") ? "x-" + l.dropFirst("x-remove-".count) : l
        return bare.hasPrefix("x-\(kind)-meta-") || bare.hasPrefix("x-\(kind)-sysmeta-")
            || storedBrokerHeaders(kind: kind).contains(bare)
    }

    /// The metadata updates of an account or container request: `X-Remove-*` (and empty
    /// values) become deletions, recorded as empty values.
    public static func brokerUpdates(_ headers: some Sequence<(name: String, value: String)>, kind: String) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in headers where isBrokerMetadataHeader(name, kind: kind) {
            let l = name.lowercased()
            if l.hasPrefix("x-remove-") {
                out[titleCase("x-" + l.dropFirst("x-remove-".count))] = ""
            } else {
                out[titleCase(l)] = value
            }
        }
        return out
    }
}
