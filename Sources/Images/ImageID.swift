import Digest

/// The kind of a registered image, by its id prefix: machine (`ami-`), kernel (`aki-`) and
/// ramdisk (`ari-`) images, as EC2 and Nova named them.
public enum ImageType: String, Sendable, Codable, CaseIterable {
    case machine, kernel, ramdisk

    public var prefix: String {
        switch self {
        case .machine: return "ami"
        case .kernel: return "aki"
        case .ramdisk: return "ari"
        }
    }
}

/// An image id: `ami-` and 8 lowercase hex digits when Nimbus makes one; AWS's 17-digit form is
/// accepted on input (and normalised to lower case).
public struct ImageID: Sendable, Hashable, Codable, CustomStringConvertible {
    public let type: ImageType
    public let hex: String

    public var description: String { "\(type.prefix)-\(hex)" }

    /// A fresh random id.
    public static func random(_ type: ImageType) -> ImageID {
        ImageID(type: type, hex: Hex.encode(Digests.randomBytes(4)))
    }

    init(type: ImageType, hex: String) {
        self.type = type
        self.hex = hex
    }

    /// Parses `ami-1a2b3c4d` (or the 17-digit form); nil when malformed.
    public init?(_ text: String) {
        let parts = text.lowercased().split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let type = ImageType.allCases.first(where: { $0.prefix == parts[0] }),
              parts[1].utf8.count == 8 || parts[1].utf8.count == 17,
              parts[1].utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        self.type = type
        hex = String(parts[1])
    }
}
