/// The CRCs S3 clients send as `x-amz-checksum-*`: CRC-32 (IEEE), CRC-32C (Castagnoli) and
/// CRC-64/NVME, all reflected, initial and final value all ones; streaming.
public struct CRC: Sendable {
    public enum Kind: Sendable {
        case crc32, crc32c, crc64nvme

        /// Bytes of the value (big-endian, as S3 base64-encodes it).
        public var width: Int { self == .crc64nvme ? 8 : 4 }

        var polynomial: UInt64 {
            switch self {
            case .crc32: return 0xEDB8_8320
            case .crc32c: return 0x82F6_3B78
            case .crc64nvme: return 0x9A6C_9329_AC4B_C9B5
            }
        }

        var mask: UInt64 { self == .crc64nvme ? UInt64.max : 0xFFFF_FFFF }
    }

    public let kind: Kind
    private var state: UInt64
    private let table: [UInt64]

    public init(_ kind: Kind) {
        self.kind = kind
        state = kind.mask
        table = CRC.tables[kind] ?? []
    }

    private static let tables: [Kind: [UInt64]] = {
        var out: [Kind: [UInt64]] = [:]
        for kind in [Kind.crc32, .crc32c, .crc64nvme] {
            out[kind] = (0..<256).map { (n: Int) -> UInt64 in
                var c = UInt64(n)
                for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ kind.polynomial : c >> 1 }
                return c
            }
        }
        return out
    }()

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        var s = state
        table.withUnsafeBufferPointer { t in
            for b in bytes { s = t[Int((s ^ UInt64(b)) & 0xFF)] ^ (s >> 8) }
        }
        state = s
    }

    /// The CRC of everything fed so far.
    public var value: UInt64 { (state ^ kind.mask) & kind.mask }

    /// The value's bytes, big-endian.
    public var bytes: [UInt8] { (0..<kind.width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
}
