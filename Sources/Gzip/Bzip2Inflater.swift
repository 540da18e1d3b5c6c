import CBzip2

/// Streaming bzip2 decompression over the system libbz2 (for `tar.bz2` archives).
public final class Bzip2Inflater {
    private var stream = bz_stream()
    private var open = false
    public private(set) var finished = false
    /// True when the last call filled its output buffer: more output may come without input.
    public private(set) var hasPendingOutput = false

    public init() throws {
        let rc = BZ2_bzDecompressInit(&stream, 0, 0)
        guard rc == BZ_OK else { throw CompressionError("BZ2_bzDecompressInit failed (\(rc))") }
        open = true
    }

    deinit { if open { BZ2_bzDecompressEnd(&stream) } }

    /// Decompresses `input`; returns the bytes it yields (possibly none).
    public func feed(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        try feed(input, maxOutput: .max).output
    }

    /// Decompresses from `input` until it is used up or about `maxOutput` bytes came out
    /// (bzip2 can expand a chunk millions of times: callers that must bound memory feed the
    /// unconsumed rest again after using the output).
    public func feed(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws -> (output: [UInt8], consumed: Int) {
        var out: [UInt8] = []
        guard input.count > 0 || hasPendingOutput else { return (out, 0) }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var offset = 0
        repeat {
            if finished {
                // A following bzip2 stream (pbzip2 writes several).
                BZ2_bzDecompressEnd(&stream)
                stream = bz_stream()
                guard BZ2_bzDecompressInit(&stream, 0, 0) == BZ_OK else { throw CompressionError("BZ2_bzDecompressInit failed") }
                finished = false
            }
            stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.advanced(by: offset).assumingMemoryBound(to: CChar.self)) }
            stream.avail_in = UInt32(input.count - offset)
            let rc: Int32 = chunk.withUnsafeMutableBytes { raw in
                stream.next_out = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                stream.avail_out = UInt32(raw.count)
                return BZ2_bzDecompress(&stream)
            }
            let produced = chunk.count - Int(stream.avail_out)
            let consumed = (input.count - offset) - Int(stream.avail_in)
            offset += consumed
            hasPendingOutput = stream.avail_out == 0
            if produced > 0 { out.append(contentsOf: chunk[0..<produced]) }
            switch rc {
            case BZ_OK:
                if consumed == 0 && produced == 0 {
                    hasPendingOutput = false
                    return (out, offset)
                }
            case BZ_STREAM_END:
                finished = true
                hasPendingOutput = false
            default: throw CompressionError("corrupt bzip2 data (\(rc))")
            }
        } while (offset < input.count || hasPendingOutput) && out.count < maxOutput
        return (out, offset)
    }
}
