import Digest
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
