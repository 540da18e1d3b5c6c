import CNimbusZlib

/// Errors of the compression codecs.
public struct CompressionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Streaming gzip (or zlib) decompression over the system zlib: feed compressed bytes as
/// they arrive, get the decompressed bytes they complete. Concatenated gzip members (as
/// `cat a.gz b.gz` makes) decode as one stream, like `gzip -d` does.
public final class GzipInflater {
    private var stream = z_stream()
    private var open = false
    /// True once the input ended exactly at the end of a gzip member.
    public private(set) var atMemberEnd = false
    /// True when the last call filled its output buffer: more output may come without input
    /// (call `feed` with an empty buffer).
    public private(set) var hasPendingOutput = false
    /// Decompressed bytes produced so far.
    public private(set) var totalOut: Int64 = 0

    /// `windowBits`: 15 + 16 for gzip only, 15 + 32 to accept gzip or zlib headers.
    public init(acceptZlib: Bool = false) throws {
        let rc = nimbus_inflateInit2(&stream, acceptZlib ? 15 + 32 : 15 + 16)
        guard rc == Z_OK else { throw CompressionError("inflateInit2 failed (\(rc))") }
        open = true
    }

    deinit { if open { inflateEnd(&stream) } }

    /// Decompresses `input`; returns the bytes it yields (possibly none).
    public func feed(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        try feed(input, maxOutput: .max).output
    }

    /// Decompresses from `input` until it is used up or about `maxOutput` bytes came out
    /// (a small compressed chunk can expand a thousandfold: callers that must bound memory
    /// feed the unconsumed rest again after using the output).
    public func feed(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws -> (output: [UInt8], consumed: Int) {
        var out: [UInt8] = []
        guard input.count > 0 || hasPendingOutput else { return (out, 0) }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var offset = 0
        repeat {
            // With no input left zlib reads nothing (it may still owe output from its window).
            stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.advanced(by: offset).assumingMemoryBound(to: Bytef.self)) }
            stream.avail_in = uInt(input.count - offset)
            let rc: Int32 = chunk.withUnsafeMutableBytes { raw in
                stream.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(raw.count)
                return inflate(&stream, Z_NO_FLUSH)
            }
            let produced = chunk.count - Int(stream.avail_out)
            let consumed = (input.count - offset) - Int(stream.avail_in)
            offset += consumed
            hasPendingOutput = stream.avail_out == 0
            if produced > 0 {
                out.append(contentsOf: chunk[0..<produced])
                totalOut += Int64(produced)
            }
            switch rc {
            case Z_OK:
                atMemberEnd = false
                if consumed == 0 && produced == 0 {
                    hasPendingOutput = false
                    return (out, offset)
                }
            case Z_BUF_ERROR:
                hasPendingOutput = false
                return (out, offset)
            case Z_STREAM_END:
                atMemberEnd = true
                // Another member may follow.
                inflateReset(&stream)
            default:
                throw CompressionError("corrupt compressed data (zlib \(rc))")
            }
        } while (offset < input.count || hasPendingOutput) && out.count < maxOutput
        return (out, offset)
    }

    public func feed(_ input: [UInt8]) throws -> [UInt8] { try input.withUnsafeBytes { try feed($0) } }
}

/// Streaming gzip compression over the system zlib.
public final class GzipDeflater {
    private var stream = z_stream()
    private var open = false
    /// Compressed bytes produced so far (volumes are cut on this, as duplicity does).
    public private(set) var totalOut: Int64 = 0

    /// `level` 0…9 (gzip's default is 6).
    public init(level: Int32 = 6) throws {
        let rc = nimbus_deflateInit2(&stream, level, 15 + 16)
        guard rc == Z_OK else { throw CompressionError("deflateInit2 failed (\(rc))") }
        open = true
    }

    deinit { if open { deflateEnd(&stream) } }

    /// Compresses `input`; returns whatever compressed bytes are ready.
    public func feed(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        try run(input, flush: Z_NO_FLUSH)
    }

    public func feed(_ input: [UInt8]) throws -> [UInt8] { try input.withUnsafeBytes { try feed($0) } }

    /// Ends the stream; returns the remaining bytes and the gzip trailer.
    public func finish() throws -> [UInt8] {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        stream.avail_in = uInt(input.count)
        while true {
            let rc: Int32 = chunk.withUnsafeMutableBytes { raw in
                stream.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(raw.count)
                return deflate(&stream, flush)
            }
            let produced = chunk.count - Int(stream.avail_out)
            if produced > 0 {
                out.append(contentsOf: chunk[0..<produced])
                totalOut += Int64(produced)
            }
            if rc == Z_STREAM_END { return out }
            guard rc == Z_OK || rc == Z_BUF_ERROR else { throw CompressionError("deflate failed (\(rc))") }
            if flush == Z_NO_FLUSH && stream.avail_in == 0 && stream.avail_out > 0 { return out }
            if rc == Z_BUF_ERROR && stream.avail_in == 0 && flush == Z_NO_FLUSH { return out }
        }
    }
}
