import Testing
@testable import NimbusCore

@Suite struct TimestampTests {
    @Test func parsesAndFormatsSwiftsNormalForm() throws {
        let t = try #require(Timestamp("1700000000.12345"))
        #expect(t.normal == "1700000000.12345")
        #expect(Timestamp("1700000000")?.normal == "1700000000.00000")
        #expect(Timestamp("12.5")?.normal == "0000000012.50000")
    }

    @Test func offsetsSortAfterThePlainTimestamp() throws {
        let plain = try #require(Timestamp("1700000000.12345"))
        let offset = try #require(Timestamp("1700000000.12345_0000000000000002"))
        #expect(offset > plain)
        #expect(offset.internalForm == "1700000000.12345_0000000000000002")
        #expect(plain.incrementedOffset() < offset)
    }

    @Test func rejectsGarbage() {
        #expect(Timestamp("abc") == nil)
        #expect(Timestamp("") == nil)
        #expect(Timestamp("-5") == nil)
        #expect(Timestamp("1.2.3") == nil)
    }

    @Test func httpDateRoundTrips() {
        #expect(HTTPDate.format(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == 784111777)
        #expect(HTTPDate.parse("yesterday") == nil)
    }
}

@Suite struct SwiftPathTests {
    @Test func splitsAccountContainerObject() throws {
        let p = try SwiftPath.parse("/v1/AUTH_test/photos/2024/a%20b.jpg")
        #expect(p.account == "AUTH_test")
        #expect(p.container == "photos")
        #expect(p.object == "2024/a b.jpg")
    }

    @Test func encodedSlashInContainerIsRejected() {
        #expect(throws: HTTPError.self) { try SwiftPath.parse("/v1/AUTH_test/a%2Fb") }
    }

    @Test func invalidUTF8Is412() {
        do {
            _ = try SwiftPath.parse("/v1/AUTH_test/c/%FF")
            Issue.record("expected an error")
        } catch {
            #expect(error.status == 412)
        }
    }

    @Test func lengthLimits() {
        #expect(throws: HTTPError.self) { try SwiftPath.parse("/v1/a/" + String(repeating: "c", count: 257)) }
        #expect(throws: HTTPError.self) { try SwiftPath.parse("/v1/a/c/" + String(repeating: "o", count: 1025)) }
        #expect((try? SwiftPath.parse("/v1/a/c/" + String(repeating: "o", count: 1024))) != nil)
    }

    @Test func queryParsingDecodesPlusAndPercent() throws {
        let q = try PercentCoding.parseQuery("prefix=a+b%2Fc&format=json&empty")
        #expect(q.map(\.0) == ["prefix", "format", "empty"])
        #expect(q[0].1 == "a b/c")
    }

    @Test func pathEncodingRoundTrips() throws {
        let name = "dir/ünï cödé?&#%"
        #expect(try PercentCoding.decodeUTF8(PercentCoding.encodePath(name)) == name)
    }
}

@Suite struct ConstraintTests {
    let c = Constraints()

    @Test func exactlyTheMetadataLimitPasses() throws {
        let items = (0..<16).map { (String(format: "X-Object-Meta-k%02d", $0), String(repeating: "v", count: 253)) }
        try c.checkMetadata(items, kind: "object")
    }

    @Test func oneByteOverTheLimitFails() {
        var items = (0..<16).map { (String(format: "X-Object-Meta-k%02d", $0), String(repeating: "v", count: 253)) }
        items[3].1 += "x"
        #expect(throws: HTTPError.self) { try c.checkMetadata(items, kind: "object") }
    }

    @Test func tooManyItemsOrLongNamesFail() {
        #expect(throws: HTTPError.self) { try c.checkMetadata((0..<91).map { ("X-Object-Meta-\($0)", "v") }, kind: "object") }
        #expect(throws: HTTPError.self) { try c.checkMetadata([("X-Container-Meta-" + String(repeating: "n", count: 129), "v")], kind: "container") }
        #expect(throws: HTTPError.self) { try c.checkMetadata([("X-Object-Meta-", "v")], kind: "object") }
    }

    @Test func hashPathMatchesSwiftsDefinition() {
        let hp = HashPathConfig(prefix: "", suffix: "changeme")
        // md5("/a/c/o" + "changeme")
        #expect(hp.hash(account: "a", container: "c", object: "o") == "2f714cd91b0e5d803cde2012b01d7099")
    }
}

@Suite struct NameBytesTests {
    @Test func slashBeforeACombiningMarkIsStillASlash() {
        let name = "c/\u{903}obj"
        #expect(NameBytes.splitOnce(name, "/")?.0 == "c")
        #expect(NameBytes.splitOnce(name, "/")?.1 == "\u{903}obj")
        #expect(NameBytes.hasPrefix("dir/\u{903}x", "dir/"))
        #expect(!NameBytes.hasPrefix("dir", "dir/"))
        #expect(throws: HTTPError.self) { try SwiftPath.parse("/v1/a/c%2F%E0%A4%83") }
    }

    @Test func splitTrimAndContainsSeeEverySlash() {
        // "/\u{900}" is one Character: String's own split, trim and contains miss that slash
        // (a segment path "/c/\u{900}seg" was refused as not naming an object).
        let path = "/c\u{900}/\u{900}seg/\u{902}x/"
        #expect(NameBytes.split(path) == ["", "c\u{900}", "\u{900}seg", "\u{902}x", ""])
        #expect(NameBytes.split(path, maxSplits: 2) == ["", "c\u{900}", "\u{900}seg/\u{902}x/"])
        #expect(NameBytes.trim("//\u{900}a/b//") == "\u{900}a/b")
        #expect(NameBytes.trim("///") == "")
        #expect(NameBytes.contains(NameBytes.trim("/c/\u{900}seg")))
        #expect(!NameBytes.contains(NameBytes.trim("/container/")))
    }
}

@Suite struct PythonJSONTests {
    @Test func encodesLikePythonJSONDumps() {
        let value = PythonJSON.array([.object([("name", .string("/c/caf\u{e9} \"x\"")), ("bytes", .int(3)), ("sub_slo", .bool(true)),
                                               ("emoji", .string("\u{1F600}")), ("none", .null)])])
        #expect(value.encoded == #"[{"name": "/c/caf\u00e9 \"x\"", "bytes": 3, "sub_slo": true, "emoji": "\ud83d\ude00", "none": null}]"#)
        #expect(PythonJSON.object([("b", .int(1)), ("a", .int(2))]).sortedKeys.encoded == #"{"a": 2, "b": 1}"#)
    }

    @Test func contentTypeParamsSplitSwiftBytesAndHashParams() {
        #expect(ContentTypeParams.split("text/plain;swift_bytes=42") == ("text/plain", 42))
        #expect(ContentTypeParams.clean("a/b; charset=x") == "a/b; charset=x")
        let (value, params) = ContentTypeParams.headerParams("abc; slo_etag=def; symlink_target=c/o")
        #expect(value == "abc")
        #expect(params.map(\.0) == ["slo_etag", "symlink_target"])
        #expect(params.map(\.1) == ["def", "c/o"])
        let bare = ContentTypeParams.headerParams("  d41d8cd98f00b204e9800998ecf8427e\t")
        #expect(bare.value == "d41d8cd98f00b204e9800998ecf8427e" && bare.params.isEmpty, "a bare hash, trimmed")
    }

    @Test func plainASCIIAndEscapedStringsEncodeAlike() {
        #expect(PythonJSON.quote("photos/2024/a b.jpg") == #""photos/2024/a b.jpg""#)
        #expect(PythonJSON.quote("a\"b\\c") == #""a\"b\\c""#, "quotes and backslashes take the escaping path")
        #expect(PythonJSON.quote("tab\there") == #""tab\there""#)
    }

    @Test func listingTimesHaveSixDigitMicroseconds() {
        #expect(Timestamp(ticks: 170_000_000_012_345).isoListingForm == "2023-11-14T22:13:20.123450")
        #expect(Timestamp(ticks: 0).isoListingForm == "1970-01-01T00:00:00.000000")
    }
}
