import CZlib

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
        var out: [UInt8] = []
        guard input.count > 0 else { return out }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var offset = 0
        while offset < input.count {
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count - offset)
            let rc: Int32 = chunk.withUnsafeMutableBytes { raw in
                stream.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(raw.count)
                return inflate(&stream, Z_NO_FLUSH)
            }
            let produced = chunk.count - Int(stream.avail_out)
            let consumed = (input.count - offset) - Int(stream.avail_in)
            offset += consumed
            if produced > 0 {
                out.append(contentsOf: chunk[0..<produced])
                totalOut += Int64(produced)
            }
            switch rc {
            case Z_OK:
                atMemberEnd = false
                if consumed == 0 && produced == 0 { return out }
            case Z_BUF_ERROR:
                return out
            case Z_STREAM_END:
                atMemberEnd = true
                // Another member may follow.
                inflateReset(&stream)
            default:
                throw CompressionError("corrupt compressed data (zlib \(rc))")
            }
        }
        return out
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
