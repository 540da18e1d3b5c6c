import AWSAuth
import HTTPServerKit
import NIOCore
import NIOHTTP1

/// The body of an S3 upload (PutObject, UploadPart) as the Swift PUT takes it: an `aws-chunked`
/// body decoded with its chunk signatures and trailer checked, the signed SHA-256 and the
/// flexible checksum verified while it streams, and its real length. Whatever fails, fails the
/// body before its last byte reaches the object servers, so nothing is stored.
struct S3Upload {
    let check: S3BodyCheck
    /// The object's length (decoded), nil for a chunked request.
    let length: Int64?
    let body: RequestBody

    /// `uploadAlgorithm`: the checksum algorithm of the multipart upload this is a part of.
    /// `checksumHeadersDescribeBody` false: `x-amz-checksum-*` describe something else (the
    /// object CompleteMultipartUpload makes), not this body.
    init(_ call: S3Call, uploadAlgorithm: String? = nil, checksumHeadersDescribeBody: Bool = true) throws(S3Error) {
        let request = call.request
        check = try S3BodyCheck(request: request, payload: call.payload.payload, uploadAlgorithm: uploadAlgorithm,
                                checksumHeaders: checksumHeadersDescribeBody)
        guard case .streaming(let signed, let trailer) = call.payload.payload else {
            length = request.contentLength
            body = check.wrap(request.body, length: length)
            return
        }
        guard let text = request.header("x-amz-decoded-content-length") else {
            throw S3Error("MissingContentLength", "You must provide the Content-Length HTTP header (x-amz-decoded-content-length for aws-chunked).",
                          status: 411)
        }
        guard let decodedLength = Int64(text), decodedLength >= 0 else {
            throw S3Error.invalidArgument("x-amz-decoded-content-length must be a non-negative integer.",
                                          name: "x-amz-decoded-content-length", value: text)
        }
        if signed, call.payload.chain == nil {
            throw S3Error("InvalidRequest", "Signed aws-chunked bodies need a SigV4 Authorization header.")
        }
        let decoder = AWSChunkedDecoder(decodedLength: decodedLength, chain: signed ? call.payload.chain : nil, signedTrailer: signed && trailer,
                                        announcedTrailer: request.header("x-amz-trailer"))
        length = decodedLength
        body = check.wrap(DecodedBody(source: request.body, decoder: decoder, check: check).requestBody, length: decodedLength)
    }

    /// `Content-Length` (or `Transfer-Encoding`) of the Swift PUT.
    var framing: HTTPHeaders {
        var h = HTTPHeaders()
        if let length { h.add(name: "Content-Length", value: String(length)) } else { h.add(name: "Transfer-Encoding", value: "chunked") }
        return h
    }

    /// Checks an empty body before anything is sent (an object server may commit an empty
    /// object without reading its body); returns the body to send.
    func prepared() async throws -> RequestBody {
        guard length == 0 else { return body }
        while try await body.next() != nil {}  // an aws-chunked body still has its terminator and trailer to check
        if let failure = check.failure { throw failure }
        try check.checkEmpty()
        return RequestBody()
    }

    /// Stages the object's system metadata for the PUT: `other`, and the checksum — with the
    /// headers when declared there, else as footers once the body has ended (a trailer's, or
    /// the one computed). `listed` also puts it in the container listing (a part's checksum,
    /// for CompleteMultipartUpload and ListParts: `; s3_checksum=ALG:value` after the ETag).
    func stage(on scope: RequestScope, with other: [(String, String)] = [], listed: Bool = false) {
        var headers = other
        if let declared = check.sysmetaHeader {
            headers.append(declared)
            if listed { headers.append(Self.listing(declared.1)) }
        }
        scope.objectSysmeta = headers
        guard check.checksum != nil, check.sysmetaHeader == nil else { return }
        let check = self.check
        scope.objectFooters = {
            let stored = check.footerSysmeta
            return listed ? stored + stored.map { Self.listing($0.1) } : stored
        }
    }

    static func listing(_ stored: String) -> (String, String) {
        ("X-Object-Sysmeta-Container-Update-Override-Etag", "; s3_checksum=\(stored)")
    }

    /// Why the body was refused, once it has been.
    var failure: S3Error? { check.failure }

    /// The response headers every upload answers with: the ETag and the verified checksum.
    func responseHeaders(etag: String?) -> HTTPHeaders {
        var out = HTTPHeaders()
        if let etag { out.add(name: "ETag", value: S3Objects.quoted(etag)) }
        if let (name, value) = check.checksumHeader { out.add(name: name, value: value) }
        return out
    }
}

/// The decoded bytes of an aws-chunked body. The piece that completes the object is held back
/// until the whole encoding — last chunk signature, trailer, its signature — has been checked
/// and the trailer's checksum handed to the body check: a reader that stops at the object's
/// length (the object PUT) never sees a bad body end.
final class DecodedBody {
    private let source: RequestBody
    private let decoder: AWSChunkedDecoder
    private let check: S3BodyCheck
    private var ready: [ByteBuffer] = []
    private var held: ByteBuffer?
    private var emitted: Int64 = 0
    private var finished = false

    init(source: RequestBody, decoder: AWSChunkedDecoder, check: S3BodyCheck) {
        self.source = source
        self.decoder = decoder
        self.check = check
    }

    var requestBody: RequestBody { RequestBody(chunks: { [self] in try await next() }) }

    func next() async throws -> ByteBuffer? {
        do {
            return try await pull()
        } catch let error as S3Error {
            check.fail(error)
            throw error
        }
    }

    private func pull() async throws -> ByteBuffer? {
        while true {
            if !ready.isEmpty { return ready.removeFirst() }
            if finished { return nil }
            guard let encoded = try await source.next() else {
                try decoder.finish()
                try complete()
                continue
            }
            for piece in try decoder.feed(encoded) {
                emitted += Int64(piece.readableBytes)
                if emitted == decoder.decodedLength { held = piece } else { ready.append(piece) }
            }
            // Done: whatever the client still sends must be nothing; then the held piece goes.
            if decoder.isDone {
                while let extra = try await source.next() { _ = try decoder.feed(extra) }
                try complete()
            }
        }
    }

    private func complete() throws(S3Error) {
        guard !finished else { return }
        finished = true
        if let name = decoder.announcedTrailer { check.receiveTrailer(decoder.trailer(name)) }
        if let held { ready.append(held) }
        held = nil
    }
}
