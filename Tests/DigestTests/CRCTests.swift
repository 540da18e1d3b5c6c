import Digest
import Foundation
import Testing

/// The CRCs S3 clients send: the catalogue's check values ("123456789"), whole and in pieces.
@Suite struct CRCTests {
    @Test func checkValuesOfEachCRC() {
        let input = Array("123456789".utf8)
        for (kind, expected) in [(CRC.Kind.crc32, UInt64(0xCBF4_3926)), (.crc32c, 0xE306_9283), (.crc64nvme, 0xAE8B_1486_0A79_9888)] {
            var whole = CRC(kind)
            whole.update(input)
            #expect(whole.value == expected, "\(kind)")
            var pieces = CRC(kind)
            pieces.update(input[..<4])
            pieces.update(input[4...])
            #expect(pieces.value == expected, "\(kind) fed in pieces")
        }
        var c = CRC(.crc32)
        c.update(input)
        #expect(c.bytes == [0xCB, 0xF4, 0x39, 0x26], "big-endian bytes, as S3 encodes them")
    }
}

/// A multipart upload's FULL_OBJECT checksum is its parts' CRCs combined without the bytes.
@Suite struct CRCCombineTests {
    @Test func combiningTwoPiecesGivesTheCRCOfBoth() {
        let a = Array("The quick brown fox ".utf8)
        let b = Array("jumps over the lazy dog".utf8)
        for kind in [CRC.Kind.crc32, .crc32c, .crc64nvme] {
            var whole = CRC(kind)
            whole.update(a + b)
            var first = CRC(kind)
            first.update(a)
            var second = CRC(kind)
            second.update(b)
            #expect(kind.combine(first.value, second.value, secondLength: Int64(b.count)) == whole.value, "\(kind)")
            #expect(kind.combine(first.value, CRC(kind).value, secondLength: 0) == first.value, "\(kind): an empty second piece")
        }
    }

    /// s3-tests' values: three 5 MiB parts of 'A', 'B' and 'C' (test_multipart_use_cksum_helper_*).
    @Test func threeFiveMebibytePartsCombineToS3TestsValues() {
        let size = 5 << 20
        for (kind, parts, whole) in [(CRC.Kind.crc32, ["JRTCyQ==", "QoZTGg==", "YAgjqw=="], "WgDhBQ=="),
                                     (.crc32c, ["MDaLrw==", "TH4EZg==", "Z7mBIQ=="], "xU+Krw=="),
                                     (.crc64nvme, ["L/E4WYn8v98=", "xW1l19VobYM=", "cK5MnNaWrW4="], "i+6LR0y3eFo=")] {
            var values: [UInt64] = []
            for (letter, expected) in zip("ABC".utf8, parts) {
                var c = CRC(kind)
                c.update([UInt8](repeating: letter, count: size))
                #expect(base64(c.bytes) == expected, "\(kind) part \(UnicodeScalar(letter))")
                values.append(c.value)
            }
            let combined = values.dropFirst().reduce(values[0]) { kind.combine($0, $1, secondLength: Int64(size)) }
            let bytes = (0..<kind.width).reversed().map { UInt8(truncatingIfNeeded: combined >> (8 * UInt64($0))) }
            #expect(base64(bytes) == whole, "\(kind)")
        }
    }

    private func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
