@testable import AWSAuth
import Digest
import Testing

/// The chunk signatures of AWS's published examples ("Transferring Payload in Multiple Chunks"
/// and "Including Trailing Headers"): 65,536 then 1,024 bytes of `a`, then the empty chunk.
struct SigV4ChunkChainTests {
    static func chain(seed: String) -> SigV4ChunkChain {
        let auth = SigV4.Authorization(accessKey: "AKIAIOSFODNN7EXAMPLE", date: "20130524", region: "us-east-1", service: "s3",
                                       signedHeaders: [], signature: seed, amzDate: "20130524T000000Z", expires: nil)
        return SigV4ChunkChain(secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", auth: auth)
    }

    static let chunks = [[UInt8](repeating: UInt8(ascii: "a"), count: 65_536), [UInt8](repeating: UInt8(ascii: "a"), count: 1024), []]

    /// The chain from `seed` after the three documented chunks, each expected to carry its signature.
    static func accepting(seed: String, _ signatures: [String]) -> SigV4ChunkChain {
        var chain = Self.chain(seed: seed)
        for (chunk, signature) in zip(Self.chunks, signatures) {
            let accepted = chain.accept(chunkSHA256Hex: Digests.sha256Hex(chunk), signature: signature)
            #expect(accepted, "chunk of \(chunk.count) bytes")
        }
        return chain
    }

    @Test func theDocumentedChunkSignaturesChainFromTheSeed() {
        _ = Self.accepting(seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                           ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"])
    }

    @Test func theDocumentedTrailerSignatureFollowsTheLastChunk() {
        var chain = Self.accepting(seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
                                   ["b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                                    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                                    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"])
        let trailerAccepted = chain.acceptTrailer([("x-amz-checksum-crc32c", "sOO8/Q==")],
                                                  signature: "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435")
        #expect(trailerAccepted)
    }

    @Test func aChangedSkippedOrReorderedChunkBreaksTheChain() {
        let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        let first = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        var changed = Self.chain(seed: seed)
        var bytes = Self.chunks[0]
        bytes[100] = UInt8(ascii: "b")
        let changedAccepted = changed.accept(chunkSHA256Hex: Digests.sha256Hex(bytes), signature: first)
        #expect(!changedAccepted)
        #expect(changed.previous == seed, "a refused chunk does not move the chain")
        var skipped = Self.chain(seed: seed)
        let skippedAccepted = skipped.accept(chunkSHA256Hex: Digests.sha256Hex(Self.chunks[1]),
                                             signature: "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497")
        #expect(!skippedAccepted)
        var trailer = Self.chain(seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e")
        let early = trailer.acceptTrailer([("x-amz-checksum-crc32c", "sOO8/Q==")],
                                          signature: "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435")
        #expect(!early, "a trailer chains from the last chunk, not the seed")
    }
}
