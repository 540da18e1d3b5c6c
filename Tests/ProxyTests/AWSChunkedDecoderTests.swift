@testable import AWSAuth
import NIOCore
import Testing
@testable import Proxy

/// aws-chunked bodies decoded with AWS's published examples, split every way a socket may split
/// them, and every malformation a client can send refused with S3's error.
struct AWSChunkedDecoderTests {
    static func chain(_ seed: String) -> SigV4ChunkChain {
        let auth = SigV4.Authorization(accessKey: "AKIAIOSFODNN7EXAMPLE", date: "20130524", region: "us-east-1", service: "s3",
                                       signedHeaders: [], signature: seed, amzDate: "20130524T000000Z", expires: nil)
        return SigV4ChunkChain(secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", auth: auth)
    }

    /// AWS's example body: 64 KiB + 1 KiB of `a`, signatures `sigs`, then `trailer` lines.
    static func example(_ sigs: [String], trailer: String = "") -> [UInt8] {
        let a = String(repeating: "a", count: 65_536), b = String(repeating: "a", count: 1024)
        return Array("10000;chunk-signature=\(sigs[0])\r\n\(a)\r\n400;chunk-signature=\(sigs[1])\r\n\(b)\r\n0;chunk-signature=\(sigs[2])\r\n\(trailer)\r\n".utf8)
    }

    static let plainSigs = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
    static let plainSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

    /// Feeds `bytes` in pieces of `split` and returns the decoded bytes.
    static func decode(_ decoder: AWSChunkedDecoder, _ bytes: [UInt8], split: Int) throws(S3Error) -> [UInt8] {
        var out: [UInt8] = []
        var at = 0
        while at < bytes.count {
            let end = min(bytes.count, at + split)
            for piece in try decoder.feed(ByteBuffer(bytes: bytes[at..<end])) { out += piece.readableBytesView }
            at = end
        }
        try decoder.finish()
        return out
    }

    static func code(_ body: () throws(S3Error) -> Void) -> String? {
        do { try body() } catch { return error.code }
        return nil
    }

    @Test(arguments: [1, 7, 4096, 1 << 20])
    func awsDocumentedSignedBodyDecodesHoweverItIsSplit(split: Int) throws {
        let body = Self.example(Self.plainSigs)
        #expect(body.count == 66_824, "the documented Content-Length")
        let decoder = AWSChunkedDecoder(decodedLength: 66_560, chain: Self.chain(Self.plainSeed), signedTrailer: false, announcedTrailer: nil)
        let decoded = try Self.decode(decoder, body, split: split)
        #expect(decoded == [UInt8](repeating: UInt8(ascii: "a"), count: 66_560))
    }

    @Test func awsDocumentedSignedTrailerIsReadAndChecked() throws {
        let sigs = ["b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"]
        let trailer = "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
        let seed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
        let decoder = AWSChunkedDecoder(decodedLength: 66_560, chain: Self.chain(seed), signedTrailer: true, announcedTrailer: "x-amz-checksum-crc32c")
        #expect(try Self.decode(decoder, Self.example(sigs, trailer: trailer), split: 1000).count == 66_560)
        #expect(decoder.trailer("x-amz-checksum-crc32c") == "sOO8/Q==")
        let forged = AWSChunkedDecoder(decodedLength: 66_560, chain: Self.chain(seed), signedTrailer: true, announcedTrailer: "x-amz-checksum-crc32c")
        let changed = trailer.replacingOccurrences(of: "sOO8/Q==", with: "AAAAAA==")
        #expect(Self.code { () throws(S3Error) in _ = try Self.decode(forged, Self.example(sigs, trailer: changed), split: 1000) } == "SignatureDoesNotMatch")
    }

    @Test func botocoresUnsignedTrailerBodyDecodes() throws {
        let decoder = AWSChunkedDecoder(decodedLength: 3, chain: nil, signedTrailer: false, announcedTrailer: "x-amz-checksum-crc32")
        let decoded = try Self.decode(decoder, Array("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n".utf8), split: 2)
        #expect(decoded == Array("abc".utf8) && decoder.trailer("x-amz-checksum-crc32") == "NSRBwg==")
    }

    @Test func aChangedByteOrAForgedChunkSignatureIsRefused() {
        var body = Self.example(Self.plainSigs)
        body[40_000] = UInt8(ascii: "b")
        let decoder = AWSChunkedDecoder(decodedLength: 66_560, chain: Self.chain(Self.plainSeed), signedTrailer: false, announcedTrailer: nil)
        #expect(Self.code { () throws(S3Error) in _ = try Self.decode(decoder, body, split: 8192) } == "SignatureDoesNotMatch")
        var sigs = Self.plainSigs
        sigs[2] = String(repeating: "0", count: 64)
        let last = AWSChunkedDecoder(decodedLength: 66_560, chain: Self.chain(Self.plainSeed), signedTrailer: false, announcedTrailer: nil)
        #expect(Self.code { () throws(S3Error) in _ = try Self.decode(last, Self.example(sigs), split: 8192) } == "SignatureDoesNotMatch")
    }

    @Test(arguments: [
        ("3\r\nabc\r\n", "IncompleteBody"),                          // no terminating chunk
        ("4\r\nabcd\r\n0\r\n\r\n", "IncompleteBody"),                // more than declared
        ("2\r\nab\r\n0\r\n\r\n", "IncompleteBody"),                  // less than declared
        ("zz\r\nabc\r\n0\r\n\r\n", "InvalidRequest"),               // not hex
        ("-3\r\nabc\r\n0\r\n\r\n", "InvalidRequest"),               // a sign
        ("fffffffffffffffff\r\n", "InvalidRequest"),                 // 17 digits
        ("ffffffffffffffff\r\n", "InvalidRequest"),                  // past Int64
        ("3\nabc\r\n0\r\n\r\n", "InvalidRequest"),                  // LF alone
        ("3\r\nabcX\r\n0\r\n\r\n", "InvalidRequest"),               // data longer than its size
        ("3\r\nabc\r\n0\r\n\r\nextra", "InvalidRequest"),           // bytes after the end
        ("3\r\nabc\r\n0\r\nx-amz-meta-a:b\r\n\r\n", "MalformedTrailerError"),  // the announced trailer missing
        ("3\r\nabc\r\n0\r\nno colon\r\n\r\n", "InvalidRequest"),
    ])
    func malformedUnsignedBodiesAreRefused(body: String, code: String) {
        let decoder = AWSChunkedDecoder(decodedLength: 3, chain: nil, signedTrailer: false,
                                        announcedTrailer: body.contains("x-amz-meta") ? "x-amz-checksum-crc32" : nil)
        #expect(Self.code { () throws(S3Error) in _ = try Self.decode(decoder, Array(body.utf8), split: 3) } == code)
    }

    @Test func anEndlessHeaderLineIsRefusedAtItsBound() {
        let decoder = AWSChunkedDecoder(decodedLength: 3, chain: nil, signedTrailer: false, announcedTrailer: nil)
        let line = [UInt8](repeating: UInt8(ascii: "1"), count: AWSChunkedDecoder.maxLine + 1)
        #expect(Self.code { () throws(S3Error) in _ = try decoder.feed(ByteBuffer(bytes: line)) } == "InvalidRequest")
    }

    @Test func aSignedChunkWithoutItsSignatureIsRefused() {
        let decoder = AWSChunkedDecoder(decodedLength: 3, chain: Self.chain(Self.plainSeed), signedTrailer: false, announcedTrailer: nil)
        #expect(Self.code { () throws(S3Error) in _ = try Self.decode(decoder, Array("3\r\nabc\r\n0\r\n\r\n".utf8), split: 100) } == "InvalidRequest")
    }
}
