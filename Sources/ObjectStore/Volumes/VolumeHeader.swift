import CNimbusZlib
import Foundation

/// The first 16 bytes of a volume: `"NVV1"`, 8 random bytes of salt, and the CRC-32 of those 12.
/// The salt seeds every record's CRC (see `VolumeRecord`), so a record copied from elsewhere —
/// or built by a client inside an object's bytes — never checks in this volume.
struct VolumeHeader {
    static let magic: [UInt8] = Array("NVV1".utf8)
    static let size = 16

    let salt: [UInt8]

    /// The CRC seed the salt gives the volume's records.
    var seed: UInt32 { salt.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) } }

    static func random() -> VolumeHeader {
        VolumeHeader(salt: (0..<8).map { _ in UInt8.random(in: 0...255) })
    }

    func encode() -> [UInt8] {
        let head = Self.magic + salt
        let crc = head.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        return head + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * UInt32($0))) }
    }

    /// The header of `bytes` (16 of them), nil when they are not one.
    static func decode(_ bytes: [UInt8]) -> VolumeHeader? {
        guard bytes.count == size, Array(bytes[0..<4]) == magic else { return nil }
        let crc = bytes[0..<12].withContiguousStorageIfAvailable { UInt32(crc32(0, $0.baseAddress, 12)) }
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[12 + $1]) << (8 * UInt32($1)) }
        guard crc == stored else { return nil }
        return VolumeHeader(salt: Array(bytes[4..<12]))
    }
}
