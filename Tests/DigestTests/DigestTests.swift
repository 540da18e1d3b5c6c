import Testing
@testable import Digest

@Suite struct DigestTests {
    @Test func md5OfKnownStringsMatchesRFC1321() {
        #expect(Digests.md5Hex("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(Digests.md5Hex("abc") == "900150983cd24fb0d6963f7d28e17f72")
    }

    @Test func streamingUpdateEqualsOneShot() {
        let bytes = (0..<100_000).map { UInt8($0 % 251) }
        var d = MessageDigest(.md5)
        d.update(bytes[0..<33_333])
        d.update(bytes[33_333...])
        #expect(d.finalizeHex() == Digests.md5Hex(bytes))
    }

    @Test func sha1AndSha256OfAbc() {
        var s1 = MessageDigest(.sha1); s1.update("abc")
        #expect(s1.finalizeHex() == "a9993e364706816aba3e25717850c26c9cd0d89d")
        var s2 = MessageDigest(.sha256); s2.update("abc")
        #expect(s2.finalizeHex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hmacSha1MatchesRFC2202() {
        let mac = Digests.hmac(.sha1, key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    @Test func hexRoundTripsAndRejectsGarbage() {
        #expect(Hex.decode("00fFa1") == [0, 255, 161])
        #expect(Hex.decode("0g") == nil)
        #expect(Hex.decode("abc") == nil)
    }
}
