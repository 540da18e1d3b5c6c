#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A point in time as OpenStack Swift writes it: seconds since the epoch with five decimals
/// (`1700000000.12345`), optionally followed by `_` and a 16-hex-digit offset that orders
/// writes made within the same 10 µs tick (used for internal updates such as `.meta` merges).
///
/// Stored as integer ticks of 10 µs so that comparison and hashing are exact.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 10 µs units since the epoch.
    public let ticks: Int64
    /// Tie-breaking offset (0 for plain timestamps).
    public let offset: Int64

    public init(ticks: Int64, offset: Int64 = 0) {
        self.ticks = ticks
        self.offset = offset
    }

    /// A timestamp for `seconds` since the epoch, rounded to Swift's 10 µs precision.
    /// Out-of-range or non-finite values are clamped to `0...maxSeconds`.
    public init(seconds: Double, offset: Int64 = 0) {
        let ticks = (seconds * 100_000).rounded()
        let bound = Double(Self.maxSeconds * 100_000)
        self.init(ticks: ticks.isNaN ? 0 : Int64(min(max(ticks, 0), bound)), offset: offset)
    }

    /// Swift refuses timestamps of 10^10 seconds and more ("timestamp too large").
    public static let maxSeconds: Int64 = 9_999_999_999

    /// The current time from the given clock.
    public static func now(_ clock: any WallClock = SystemClock()) -> Timestamp {
        Timestamp(seconds: clock.now())
    }

    /// Parses `1700000000.12345`, `1700000000`, or the internal `…_000000000000000a` form.
    public init?(_ text: some StringProtocol) {
        var main = Substring(text)
        var offset: Int64 = 0
        if let underscore = main.firstIndex(of: "_") {
            guard let off = Int64(main[main.index(after: underscore)...], radix: 16) else { return nil }
            offset = off
            main = main[..<underscore]
        }
        guard !main.isEmpty else { return nil }
        let parts = main.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]), whole >= 0, whole <= Self.maxSeconds else { return nil }
        var frac: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            // Keep five decimals, rounding the rest as Swift's float formatting does.
            let padded = (String(digits) + "000000").prefix(6)
            guard let six = Int64(padded) else { return nil }
            frac = (six + 5) / 10
        }
        self.init(ticks: whole * 100_000 + frac, offset: offset)
    }

    /// Seconds since the epoch.
    public var seconds: Double { Double(ticks) / 100_000 }

    /// Swift's normal form: `%016.05f`.
    public var normal: String {
        let whole = ticks / 100_000
        let frac = ticks % 100_000
        var fracText = String(frac)
        fracText = String(repeating: "0", count: 5 - fracText.count) + fracText
        var s = "\(whole).\(fracText)"
        if s.count < 16 { s = String(repeating: "0", count: 16 - s.count) + s }
        return s
    }

    /// Swift's internal form: the normal form plus `_offset` when the offset is not zero.
    public var internalForm: String {
        guard offset != 0 else { return normal }
        var hex = String(offset, radix: 16)
        hex = String(repeating: "0", count: max(0, 16 - hex.count)) + hex
        return normal + "_" + hex
    }

    public var description: String { internalForm }

    /// The same instant with a larger offset, so it sorts after `self`.
    public func incrementedOffset() -> Timestamp { Timestamp(ticks: ticks, offset: offset + 1) }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        (lhs.ticks, lhs.offset) < (rhs.ticks, rhs.offset)
    }

    /// Whole seconds, rounded up, as Swift uses for `Last-Modified`.
    /// Swift's listing `last_modified`: ISO 8601 with microseconds, no zone.
    public var isoListingForm: String {
        var t = time_t(ticks / 100_000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let micros = (ticks % 100_000) * 10
        // Written straight into the string's storage: this runs for every row of a listing.
        let fields = [(Int(tmv.tm_year) + 1900, 4, UInt8(ascii: "-")), (Int(tmv.tm_mon) + 1, 2, UInt8(ascii: "-")),
                      (Int(tmv.tm_mday), 2, UInt8(ascii: "T")), (Int(tmv.tm_hour), 2, UInt8(ascii: ":")),
                      (Int(tmv.tm_min), 2, UInt8(ascii: ":")), (Int(tmv.tm_sec), 2, UInt8(ascii: ".")), (Int(micros), 6, 0)]
        return String(unsafeUninitializedCapacity: 26) { buffer in
            var at = 0
            for (value, width, separator) in fields {
                var v = max(0, value)
                for i in stride(from: at + width - 1, through: at, by: -1) {
                    buffer[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                at += width
                if separator != 0 {
                    buffer[at] = separator
                    at += 1
                }
            }
            return at
        }
    }

    public var ceilSeconds: Int64 { (ticks + 99_999) / 100_000 }

    /// The zero timestamp.
    public static let zero = Timestamp(ticks: 0)
}

/// The wall clock, injectable so expiry and token lifetimes are testable without sleeping.
public protocol WallClock: Sendable {
    /// Seconds since the epoch.
    func now() -> Double
}

/// The real clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Double { Date().timeIntervalSince1970 }
}
