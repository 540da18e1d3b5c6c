import Testing
@testable import NimbusCore

/// Values a client controls reach these parsers; none may trap, each gives Swift's answer.
@Suite struct RangeSpecLimitTests {
    @Test func moreThanFiftyRangesAreUnsatisfiable() {
        let header = "bytes=" + Array(repeating: "0-", count: 100).joined(separator: ",")
        #expect(RangeSpec.resolve(header, length: 1 << 20) == [])
        let fifty = "bytes=" + (0..<50).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        #expect(RangeSpec.resolve(fifty, length: 1 << 20)?.count == 50)
    }

    @Test func moreThanTwoOverlappingPairsAreUnsatisfiable() {
        #expect(RangeSpec.resolve("bytes=0-100,50-150", length: 1000)?.count == 2)
        #expect(RangeSpec.resolve("bytes=0-100,50-150,60-160", length: 1000) == [])
        // Identical ranges do not count as overlapping (Swift's strict comparisons).
        #expect(RangeSpec.resolve("bytes=0-,0-,0-", length: 1000)?.count == 3)
    }

    @Test func eightRangesOutOfOrderAreUnsatisfiable() {
        let seven = "bytes=" + stride(from: 70, to: 0, by: -10).map { "\($0)-\($0)" }.joined(separator: ",")
        #expect(RangeSpec.resolve(seven, length: 1000)?.count == 7)
        let eight = "bytes=" + stride(from: 80, to: 0, by: -10).map { "\($0)-\($0)" }.joined(separator: ",")
        #expect(RangeSpec.resolve(eight, length: 1000) == [])
        let ascending = "bytes=" + stride(from: 10, through: 200, by: 10).map { "\($0)-\($0)" }.joined(separator: ",")
        #expect(RangeSpec.resolve(ascending, length: 1000)?.count == 20)
    }

    @Test func extremeNumbersNeverTrap() {
        #expect(RangeSpec.resolve("bytes=-9223372036854775807", length: 10) == [0...9])
        #expect(RangeSpec.resolve("bytes=9223372036854775807-", length: 10) == [])
        #expect(RangeSpec.resolve("bytes=0-99999999999999999999", length: 10) == nil)
        #expect(RangeSpec.resolve("bytes=-1", length: -5) == nil)
        #expect(RangeSpec.resolve("bytes=0-", length: Int64.max)?.count == 1)
    }
}

@Suite struct TimestampBoundsTests {
    @Test func timestampsFromTenBillionSecondsOnAreRefused() {
        #expect(Timestamp("9999999999.99999") != nil)
        #expect(Timestamp("10000000000") == nil)
        #expect(Timestamp("99999999999999") == nil)
        #expect(Timestamp("92233720368547.75807") == nil)
        #expect(Timestamp("9999999999.99999")?.ceilSeconds == 10_000_000_000)
    }

    @Test func secondsOutOfRangeAreClamped() {
        #expect(Timestamp(seconds: .infinity).ticks == Timestamp.maxSeconds * 100_000)
        #expect(Timestamp(seconds: -.infinity).ticks == 0)
        #expect(Timestamp(seconds: .nan).ticks == 0)
        #expect(Timestamp(seconds: 1e300).ticks == Timestamp.maxSeconds * 100_000)
    }
}

@Suite struct HTTPDateBoundsTests {
    @Test func farFutureAndNegativeTimesFormatWithinYearsTo9999() {
        #expect(HTTPDate.format(67_767_976_233_532_800).hasSuffix("9999 23:59:59 GMT"))
        #expect(HTTPDate.format(Int64.max).hasSuffix("9999 23:59:59 GMT"))
        #expect(HTTPDate.format(-5) == "Thu, 01 Jan 1970 00:00:00 GMT")
    }

    @Test func extremeYearsDoNotParse() {
        #expect(HTTPDate.parse("Sun, 06 Nov -2147483648 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 2147483647 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
    }
}

@Suite struct SaturatingMathTests {
    @Test func sumsClampAtTheEnds() {
        #expect(Int64.max.clampedAdding(1) == .max)
        #expect(Int64.min.clampedAdding(-1) == .min)
        #expect(Int64.min.clampedSubtracting(1) == .min)
        #expect(Int64.max.clampedSubtracting(-1) == .max)
        #expect(Int64(5).clampedAdding(-7) == -2)
    }
}

@Suite struct XMLTextTests {
    @Test func controlCharactersBecomeReplacementCharacters() {
        #expect(XMLText.escape("a\u{01}b\u{0B}c\u{1F}") == "a\u{FFFD}b\u{FFFD}c\u{FFFD}")
        #expect(XMLText.escape("tab\tnl\ncr\r") == "tab\tnl\ncr\r")
        #expect(XMLText.escape("<a & \"b\">") == "&lt;a &amp; &quot;b&quot;&gt;")
    }
}

@Suite struct SwiftBytesTests {
    @Test func onlyNonNegativeSizesCount() {
        #expect(ContentTypeParams.swiftBytes("a/b;swift_bytes=12") == 12)
        #expect(ContentTypeParams.swiftBytes("a/b;swift_bytes=-1") == nil)
        #expect(ContentTypeParams.swiftBytes("a/b;swift_bytes=99999999999999999999") == nil)
    }
}
