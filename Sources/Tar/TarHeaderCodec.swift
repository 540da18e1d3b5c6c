import Foundation

/// Reading and writing the fields of a 512-byte ustar header.
enum TarHeaderCodec {
    static let nameRange = 0..<100, modeRange = 100..<108, uidRange = 108..<116, gidRange = 116..<124
    static let sizeRange = 124..<136, mtimeRange = 136..<148, checksumRange = 148..<156, typeIndex = 156
    static let linkRange = 157..<257, magicRange = 257..<263, versionRange = 263..<265
    static let unameRange = 265..<297, gnameRange = 297..<329, majorRange = 329..<337, minorRange = 337..<345
    static let prefixRange = 345..<500

    /// Bytes of a NUL-terminated field.
    static func string(_ block: ArraySlice<UInt8>) -> [UInt8] {
        Array(block.prefix { $0 != 0 })
    }

    /// An octal number (space/NUL padded), or GNU's base-256 form (high bit of first byte set).
    static func number(_ field: ArraySlice<UInt8>) throws -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x7F)
            for b in field.dropFirst() {
                // Base-256 values past Int64 (or negative ones) are no size or time we accept.
                guard value <= Int64.max >> 8 else { throw TarError("numeric field out of range") }
                value = (value << 8) | Int64(b)
            }
            return value
        }
        var value: Int64 = 0
        var seen = false
        for b in field {
            if b == 0 || b == UInt8(ascii: " ") {
                if seen { break } else { continue }
            }
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "7") else { throw TarError("bad octal field") }
            value = value * 8 + Int64(b - UInt8(ascii: "0"))
            seen = true
        }
        return value
    }

    /// The header checksum: the sum of all bytes with the checksum field read as spaces.
    static func checksum(_ block: [UInt8]) -> Int64 {
        var sum: Int64 = 0
        for (i, b) in block.enumerated() { sum += checksumRange.contains(i) ? 32 : Int64(b) }
        return sum
    }

    /// Writes `value` as zero-padded octal with a trailing NUL into `width` bytes; false if it does not fit.
    static func putOctal(_ value: Int64, into block: inout [UInt8], _ range: Range<Int>) -> Bool {
        let digits = String(value, radix: 8)
        let width = range.count - 1
        guard value >= 0, digits.count <= width else { return false }
        let padded = String(repeating: "0", count: width - digits.count) + digits
        for (i, b) in padded.utf8.enumerated() { block[range.lowerBound + i] = b }
        block[range.upperBound - 1] = 0
        return true
    }

    static func putBytes(_ bytes: [UInt8], into block: inout [UInt8], _ range: Range<Int>) {
        for (i, b) in bytes.prefix(range.count).enumerated() { block[range.lowerBound + i] = b }
    }
}
