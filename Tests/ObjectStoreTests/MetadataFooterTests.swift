import Foundation
import Testing
@testable import ObjectStore

/// The metadata footer's JSON, written by hand, reads back as the same dictionary whatever the
/// strings hold.
@Suite struct MetadataFooterTests {
    @Test func awkwardStringsRoundTrip() throws {
        let metadata = [
            "name": "/AUTH_test/c/\"quoted\" \\ back\\slash / slash",
            "X-Object-Meta-Control": "tab\there\nnewline\r\u{01}\u{1F}end",
            "X-Object-Meta-Unicode": "héllo wörld ✓ 𝄞 \u{7F}",
            "Content-Type": "text/plain; charset=utf-8",
            "": "empty key",
            "X-Empty": "",
        ]
        let footer = try MetadataFooter.encode(metadata)
        let decoded = try footer.withUnsafeBytes { try MetadataFooter.read(image: $0) }
        #expect(decoded.metadata == metadata)
        #expect(decoded.dataLength == 0)
        // Foundation's own JSON reader agrees (the footer is plain JSON).
        let json = Data(footer.dropLast(MetadataFooter.trailerSize))
        #expect(try JSONSerialization.jsonObject(with: json) as? [String: String] == metadata)
    }

    @Test func keysAreSorted() throws {
        let footer = try MetadataFooter.encode(["b": "2", "a": "1", "c": "3"])
        #expect(String(decoding: footer.dropLast(MetadataFooter.trailerSize), as: UTF8.self) == #"{"a":"1","b":"2","c":"3"}"#)
    }
}
