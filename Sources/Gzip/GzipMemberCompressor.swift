import CDeflate
import Foundation

/// Compresses whole buffers into complete gzip members with libdeflate.
///
/// Concatenated members are one valid gzip file (RFC 1952 §2.2; zlib, Python's `gzip` and
/// therefore duplicity read them), so a stream cut into buffers can be compressed on several
/// cores at once. Data that does not look compressible is stored (deflate level 0): trying
/// to compress random bytes costs as much as compressing text and gains nothing.
public final class GzipMemberCompressor {
    private let compressor: OpaquePointer
    private let storer: OpaquePointer
    /// The level used for compressible data (libdeflate's 1…12; 6 is zlib's default).
    public let level: Int32

    public init(level: Int32 = 3) throws {
        guard let c = libdeflate_alloc_compressor(level), let s = libdeflate_alloc_compressor(0) else {
            throw CompressionError("libdeflate_alloc_compressor failed")
        }
        compressor = c
        storer = s
        self.level = level
    }

    deinit {
        libdeflate_free_compressor(compressor)
        libdeflate_free_compressor(storer)
    }

    /// One gzip member holding `input`; `compressible: nil` decides by sampling the bytes.
    public func member(_ input: UnsafeRawBufferPointer, compressible: Bool? = nil) -> [UInt8] {
        let which = (compressible ?? Self.looksCompressible(input)) ? compressor : storer
        let bound = libdeflate_gzip_compress_bound(which, input.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { out, count in
            count = libdeflate_gzip_compress(which, input.baseAddress, input.count, out.baseAddress, bound)
        }
    }

    public func member(_ input: [UInt8], compressible: Bool? = nil) -> [UInt8] {
        input.withUnsafeBytes { member($0, compressible: compressible) }
    }

    /// Whether `bytes` are worth compressing: the order-0 entropy of a sample (up to 4 KiB
    /// from the start and 4 KiB from the middle) below 7.2 bits per byte. Random, encrypted
    /// and already-compressed data sits at ~8 bits; text and most binaries well below.
    public static func looksCompressible(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if bytes.count < 64 { return true }
        var counts = [Int](repeating: 0, count: 256)
        var total = 0
        func count(_ range: Range<Int>) {
            for i in range { counts[Int(bytes[i])] += 1 }
            total += range.count
        }
        let sample = 4096
        count(0..<min(sample, bytes.count))
        if bytes.count > 2 * sample { count(bytes.count / 2..<bytes.count / 2 + sample) }
        var entropy = 0.0
        let n = Double(total)
        for c in counts where c > 0 {
            let p = Double(c) / n
            entropy -= p * log2(p)
        }
        // Small samples of random data cannot reach 8 bits (256 symbols, few draws): compare
        // with what a uniform source would show at this sample size.
        let expectedRandom = min(8.0, log2(n)) - 256.0 / (2.0 * n * log(2.0))
        return entropy < min(7.2, expectedRandom - 0.3)
    }
}
