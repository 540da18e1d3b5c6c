/// The limits a cluster enforces, with OpenStack Swift's defaults; `/info` publishes them
/// under `swift` with Swift's key names so clients and the functional tests read them.
public struct Constraints: Sendable, Codable, Equatable {
    public var maxFileSize: Int64 = 5_368_709_122
    public var maxMetaNameLength = 128
    public var maxMetaValueLength = 256
    public var maxMetaCount = 90
    public var maxMetaOverallSize = 4096
    public var maxHeaderSize = 8192
    public var maxObjectNameLength = 1024
    public var containerListingLimit = 10_000
    public var accountListingLimit = 10_000
    public var maxAccountNameLength = 256
    public var maxContainerNameLength = 256

    public init() {}

    /// The `swift` section of `/info`.
    public var infoDictionary: [String: Any] {
        [
            "max_file_size": maxFileSize,
            "max_meta_name_length": maxMetaNameLength,
            "max_meta_value_length": maxMetaValueLength,
            "max_meta_count": maxMetaCount,
            "max_meta_overall_size": maxMetaOverallSize,
            "max_header_size": maxHeaderSize,
            "max_object_name_length": maxObjectNameLength,
            "container_listing_limit": containerListingLimit,
            "account_listing_limit": accountListingLimit,
            "max_account_name_length": maxAccountNameLength,
            "max_container_name_length": maxContainerNameLength,
            "extra_header_count": 0,
            "valid_api_versions": ["v1", "v1.0"],
            "strict_cors_mode": true,
            "allow_account_management": false,
            "account_autocreate": true,
            "policies": [["name": "Policy-0", "default": true, "aliases": "Policy-0"]],
        ]
    }

    /// Bytes a header text had on the wire: the HTTP layer turns each byte that was not
    /// UTF-8 into U+FFFD (3 bytes), so count those as the single byte they were.
    static func wireLength(_ s: String) -> Int {
        var n = 0
        for scalar in s.unicodeScalars { n += scalar == "\u{FFFD}" ? 1 : String(scalar).utf8.count }
        return n
    }

    /// Checks user metadata headers (`X-<kind>-Meta-*`) as Swift's `check_metadata` does.
    /// - Parameter kind: `object`, `container` or `account`.
    public func checkMetadata(_ headers: [(String, String)], kind: String) throws(HTTPError) {
        let prefix = "x-\(kind)-meta-"
        var count = 0
        var size = 0
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower.hasPrefix(prefix) else { continue }
            let key = String(lower.dropFirst(prefix.count))
            if key.isEmpty { throw .badRequest("Metadata name cannot be empty") }
            if kind != "object" && value.isEmpty { continue } // an empty value deletes the key
            count += 1
            size += Self.wireLength(key) + Self.wireLength(value)
            if key.utf8.count > maxMetaNameLength {
                throw .badRequest("Metadata name too long: \(key.prefix(64)); max \(maxMetaNameLength)")
            }
            if value.utf8.count > maxMetaValueLength {
                throw .badRequest("Metadata value longer than \(maxMetaValueLength): \(key.prefix(64))")
            }
            if count > maxMetaCount { throw .badRequest("Too many metadata items; max \(maxMetaCount)") }
            if size > maxMetaOverallSize { throw .badRequest("Total metadata too large; max \(maxMetaOverallSize)") }
        }
    }
}
