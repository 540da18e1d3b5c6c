import AWSAuth
import Digest
import Foundation
import NIOCore

/// Decodes an `aws-chunked` body as it streams: `<hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n`
/// chunks, a zero-size chunk, then trailing headers (`x-amz-checksum-…:<value>\r\n`, and
/// `x-amz-trailer-signature:<sig>\r\n` when signed) and an empty line. Each chunk's signature is
/// checked against the chain seeded by the request's own signature
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`); `STREAMING-UNSIGNED-PAYLOAD-TRAILER` bodies
/// carry no chunk signatures. Every value here comes from the client, so every size is bounded
/// and every malformation is an S3 error, never a trap.
final class AWSChunkedDecoder {
    enum State: Equatable {
        case header
        case data(remaining: Int64)
        case dataEnd
        case trailer
        case done
    }

    /// Longest chunk header or trailer line: a size, a signature and room for extensions.
    static let maxLine = 4096
    static let maxTrailers = 16

    private(set) var state = State.header
    /// The decoded bytes the request declared (`x-amz-decoded-content-length`).
    let decodedLength: Int64
    /// Decoded bytes seen so far.
    private(set) var decoded: Int64 = 0
    /// The trailing header `x-amz-trailer` announced (lower case), if any.
    let announcedTrailer: String?
    /// The trailing headers received, in order (the signature not among them).
    private(set) var trailers: [(name: String, value: String)] = []

    private var chain: SigV4ChunkChain?
    private let signedTrailer: Bool
    private var line: [UInt8] = []
    private var chunkDigest: MessageDigest?
    private var chunkSignature = ""
    private var trailerSignature: String?

    /// - Parameters:
    ///   - chain: the signature chain of a signed body, nil for an unsigned one.
    ///   - signedTrailer: `…-PAYLOAD-TRAILER`: the trailer must carry `x-amz-trailer-signature`.
    init(decodedLength: Int64, chain: SigV4ChunkChain?, signedTrailer: Bool, announcedTrailer: String?) {
        self.decodedLength = decodedLength
        self.chain = chain
        self.signedTrailer = signedTrailer
        self.announcedTrailer = announcedTrailer?.lowercased()
    }

    var isDone: Bool { state == .done }

    /// The value of the trailing header `name` (lower case), once the body is done.
    func trailer(_ name: String) -> String? { trailers.first { $0.name == name }?.value }

    /// The decoded bytes in `encoded`, in order (slices of it, not copies).
    func feed(_ encoded: ByteBuffer) throws(S3Error) -> [ByteBuffer] {
        var input = encoded
        var out: [ByteBuffer] = []
        while input.readableBytes > 0 {
            switch state {
            case .data(let remaining):
                let n = Int(min(Int64(input.readableBytes), remaining))
                guard let slice = input.readSlice(length: n) else { throw Self.malformed("short read") }
                if chain != nil { slice.withUnsafeReadableBytes { chunkDigest?.update($0) } }
                out.append(slice)
                decoded += Int64(n)
                state = remaining == Int64(n) ? .dataEnd : .data(remaining: remaining - Int64(n))
            case .header, .dataEnd, .trailer:
                guard let byte = input.readInteger(as: UInt8.self) else { throw Self.malformed("short read") }
                if byte == UInt8(ascii: "\n") {
                    guard line.last == UInt8(ascii: "\r") else { throw Self.malformed("a line must end with CRLF") }
                    line.removeLast()
                    let text = String(decoding: line, as: UTF8.self)
                    line.removeAll(keepingCapacity: true)
                    try endOfLine(text)
                } else {
                    line.append(byte)
                    guard line.count <= Self.maxLine else { throw Self.malformed("a chunk header or trailer is too long") }
                }
            case .done:
                throw Self.malformed("bytes after the end of the body")
            }
        }
        return out
    }

    /// The body ended: it must have ended where the encoding says.
    func finish() throws(S3Error) {
        guard state == .done else {
            throw S3Error("IncompleteBody", "The request body terminated unexpectedly (the aws-chunked encoding was not complete).")
        }
    }

    private func endOfLine(_ text: String) throws(S3Error) {
        switch state {
        case .header: try chunkHeader(text)
        case .dataEnd:
            guard text.isEmpty else { throw Self.malformed("a chunk's data must be followed by CRLF") }
            try verifyChunk()
            state = .header
        case .trailer:
            if text.isEmpty { try endOfTrailer() } else { try trailerLine(text) }
        case .data, .done: break
        }
    }

    private func chunkHeader(_ text: String) throws(S3Error) {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
        let sizeText = parts[0]
        guard (1...16).contains(sizeText.utf8.count), sizeText.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }),
              let size = Int64(sizeText, radix: 16) else {
            throw Self.malformed("bad chunk size '\(sizeText.prefix(20))'")
        }
        guard size <= decodedLength - decoded else {
            throw S3Error("IncompleteBody", "The aws-chunked body holds more than x-amz-decoded-content-length (\(decodedLength)) bytes.")
        }
        if chain != nil {
            let signature = parts.dropFirst().first { $0.hasPrefix("chunk-signature=") }.map { String($0.dropFirst("chunk-signature=".count)) }
            guard let signature, signature.utf8.count == 64 else { throw Self.malformed("a signed chunk needs chunk-signature=<64 hex digits>") }
            chunkSignature = signature
            chunkDigest = MessageDigest(.sha256)
        }
        if size == 0 {
            guard decoded == decodedLength else {
                throw S3Error("IncompleteBody", "The aws-chunked body ended after \(decoded) of the \(decodedLength) bytes x-amz-decoded-content-length declared.")
            }
            try verifyChunk()
            state = .trailer
        } else {
            state = .data(remaining: size)
        }
    }

    private func verifyChunk() throws(S3Error) {
        guard chain != nil else { return }
        let hash = chunkDigest?.finalizeHexAndReset() ?? ""
        chunkDigest = nil
        guard chain?.accept(chunkSHA256Hex: hash, signature: chunkSignature) == true else { throw Self.signatureMismatch }
    }

    private func trailerLine(_ text: String) throws(S3Error) {
        guard let colon = text.firstIndex(of: ":") else { throw Self.malformed("a trailing header must be name:value") }
        let name = text[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        if name == "x-amz-trailer-signature" {
            trailerSignature = value
            return
        }
        guard trailers.count < Self.maxTrailers, !name.isEmpty else { throw Self.malformed("too many trailing headers") }
        trailers.append((name, value))
    }

    private func endOfTrailer() throws(S3Error) {
        if let announcedTrailer, trailer(announcedTrailer) == nil {
            throw S3Error("MalformedTrailerError", "The request contained trailing data that was not well-formed or did not conform to our published schema: \(announcedTrailer) is missing.")
        }
        if signedTrailer {
            guard let trailerSignature else { throw Self.malformed("a signed trailer needs x-amz-trailer-signature") }
            let sorted = trailers.sorted { $0.name < $1.name }
            guard chain?.acceptTrailer(sorted, signature: trailerSignature) == true else { throw Self.signatureMismatch }
        }
        state = .done
    }

    static let signatureMismatch = S3Error("SignatureDoesNotMatch",
                                           "The request signature we calculated does not match the signature you provided (aws-chunked chunk or trailer signature).",
                                           status: 403)

    static func malformed(_ why: String) -> S3Error {
        S3Error("InvalidRequest", "Malformed aws-chunked body: \(why).")
    }
}
