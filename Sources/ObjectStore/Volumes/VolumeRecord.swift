import CNimbusZlib
import Foundation

/// One record of an object volume: a file of a hash directory put into the volume (its whole
/// image — object bytes and metadata footer, as the file would hold them), or the removal of
/// one. Records follow each other with no padding:
///
///     "NVR1" kind:u8 partition:u32 hashLength:u8 nameLength:u16 bodyLength:u64 crc32:u32
///     hash name body
///
/// Integers are little-endian; the CRC-32 covers every byte of the record but its own four,
/// seeded with the volume's random salt (`VolumeHeader`): object bytes a client uploaded can
/// hold something shaped like a record, but never one that checks, so the replay's search for
/// the next sound record after damage cannot take client data for a record. Hashes must be hex
/// and names `<timestamp>.data|ts|meta` (they become paths when a file is quarantined), and a
/// body is at most `maxBodyLength`.
struct VolumeRecord: Equatable {
    enum Kind: UInt8 {
        case put = 1
        case remove = 2
    }

    static let magic: [UInt8] = Array("NVR1".utf8)
    static let headerSize = 24

    var kind: Kind
    var partition: Int
    var hash: String
    var name: String
    /// Length of the body that follows the record's names (0 for a removal).
    var bodyLength: Int64

    /// No record body is larger: volumes hold files up to `VolumeStore.smallFileLimit`.
    static let maxBodyLength = Int64(VolumeStore.smallFileLimit) + (1 << 20)

    /// Where the body starts, relative to the record's start.
    var bodyOffset: Int { Self.headerSize + hash.utf8.count + name.utf8.count }

    /// The record's header and names; `body` (when given) goes into the CRC, and is written
    /// straight after by the caller.
    func encodeHead(body: UnsafeRawBufferPointer?, seed: UInt32) -> [UInt8] {
        var out = Self.magic
        out.append(kind.rawValue)
        Self.append(UInt64(UInt32(truncatingIfNeeded: partition)), bytes: 4, to: &out)
        out.append(UInt8(hash.utf8.count))
        Self.append(UInt64(name.utf8.count), bytes: 2, to: &out)
        Self.append(UInt64(bodyLength), bytes: 8, to: &out)
        let crcAt = out.count
        out += [0, 0, 0, 0]
        out += Array(hash.utf8)
        out += Array(name.utf8)
        var crc = Self.crc(out[0..<crcAt], seed: seed)
        crc = Self.crc(out[(crcAt + 4)...], seed: crc)
        if let body, body.count > 0 {
            crc = UInt32(crc32(UInt(crc), body.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32(body.count)))
        }
        out[crcAt] = UInt8(crc & 0xff)
        out[crcAt + 1] = UInt8(crc >> 8 & 0xff)
        out[crcAt + 2] = UInt8(crc >> 16 & 0xff)
        out[crcAt + 3] = UInt8(crc >> 24 & 0xff)
        return out
    }

    /// Reads the record starting at `bytes[at...]` (header, names and body all present) and
    /// checks its CRC; nil when the bytes there are not a whole, sound record.
    static func decode(_ bytes: UnsafeRawBufferPointer, at: Int, seed: UInt32) -> VolumeRecord? {
        guard bytes.count - at >= headerSize else { return nil }
        let b = UnsafeRawBufferPointer(rebasing: bytes[at...])
        guard b[0] == magic[0], b[1] == magic[1], b[2] == magic[2], b[3] == magic[3], let kind = Kind(rawValue: b[4]) else { return nil }
        let partition = Int(read(b, 5, bytes: 4))
        let hashLength = Int(b[9])
        let nameLength = Int(read(b, 10, bytes: 2))
        let bodyLength = read(b, 12, bytes: 8)
        let stored = UInt32(read(b, 20, bytes: 4))
        guard bodyLength <= UInt64(maxBodyLength), hashLength > 0, hashLength <= 64, nameLength > 0, nameLength <= 64 else { return nil }
        let total = headerSize + hashLength + nameLength
        guard b.count >= total, UInt64(b.count - total) >= bodyLength else { return nil }
        var crc = Self.crc(b[0..<20], seed: seed)
        crc = Self.crc(b[24..<(total + Int(bodyLength))], seed: crc)
        guard crc == stored else { return nil }
        let hashBytes = b[24..<(24 + hashLength)]
        guard hashBytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        let hash = String(decoding: hashBytes, as: UTF8.self)
        let nameBytes = b[(24 + hashLength)..<total]
        // ASCII only, so the decoded names are as long as the stored ones (offsets stay right).
        guard nameBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else { return nil }
        let name = String(decoding: nameBytes, as: UTF8.self)
        guard DiskFile.parse(name) != nil else { return nil }
        return VolumeRecord(kind: kind, partition: partition, hash: hash, name: name, bodyLength: Int64(bodyLength))
    }

    /// The record's whole length (header, names, body).
    var length: Int64 { Int64(bodyOffset) + bodyLength }

    private static func crc<C: Collection>(_ bytes: C, seed: UInt32) -> UInt32 where C.Element == UInt8 {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { UInt32(crc32(UInt(seed), $0.baseAddress, UInt32($0.count))) }
    }

    private static func crc(_ bytes: Slice<UnsafeRawBufferPointer>, seed: UInt32) -> UInt32 {
        let raw = UnsafeRawBufferPointer(rebasing: bytes)
        guard raw.count > 0 else { return seed }
        return UInt32(crc32(UInt(seed), raw.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32(raw.count)))
    }

    private static func append(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for i in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    private static func read(_ b: UnsafeRawBufferPointer, _ at: Int, bytes: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<bytes { v |= UInt64(b[at + i]) << (8 * UInt64(i)) }
        return v
    }
}
