import Digest
import Foundation
import HTTPServerKit
import NIOConcurrencyHelpers
import NIOCore

/// The checks an S3 upload's body must pass before the object may exist: the SHA-256 the
/// signature covers (`x-amz-content-sha256`) and a flexible checksum (`x-amz-checksum-*`).
/// They run while the body streams to the object servers; a mismatch fails the body before
/// its end, so no object server commits it.
final class S3BodyCheck: Sendable {
    /// A declared flexible checksum, or one computed for a multipart upload that has one.
    struct Checksum: Sendable {
        let algorithm: String  // CRC32, CRC32C, CRC64NVME, SHA1, SHA256
        /// Base64; nil when it comes in an aws-chunked body's trailer (`x-amz-trailer`) or is
        /// computed here.
        let expected: String?
        /// Nothing declared: the value is what the bytes give.
        var computed = false

        var header: String { "x-amz-checksum-" + algorithm.lowercased() }
    }

    static let algorithms = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]

    let sha256: String?
    let checksum: Checksum?
    private let running: S3RunningChecksum?

    private let state: NIOLockedValueBox<StateBox>

    // The digests are non-copyable; a class holds them for the lock.
    private final class StateBox: @unchecked Sendable {  // only touched inside `state`'s lock
        var payload: MessageDigest?
        var failure: S3Error?
        /// The checksum a trailer brought, or the one computed.
        var trailerValue: String?
        init() {}
    }

    /// The checks `request` declares; `InvalidRequest`/`InvalidDigest` for malformed ones.
    /// A part of an upload created with a checksum algorithm (`uploadAlgorithm`) must declare
    /// that one or none; with none, it is computed.
    /// `checksumHeaders` false: the request's `x-amz-checksum-*` are not this body's.
    init(request: HTTPRequest, payload: S3Authenticator.Payload, uploadAlgorithm: String? = nil, checksumHeaders: Bool = true) throws(S3Error) {
        if case .sha256(let hex) = payload { sha256 = hex } else { sha256 = nil }
        var found: [Checksum] = []
        for algorithm in Self.algorithms where checksumHeaders {
            if let value = request.header("x-amz-checksum-" + algorithm.lowercased()) { found.append(Checksum(algorithm: algorithm, expected: value)) }
        }
        if let trailer = request.header("x-amz-trailer") {
            let name = trailer.trimmingCharacters(in: .whitespaces).lowercased()
            guard name.hasPrefix("x-amz-checksum-"), let algorithm = Self.algorithms.first(where: { "x-amz-checksum-" + $0.lowercased() == name }) else {
                throw S3Error("InvalidRequest", "The value specified in the x-amz-trailer header is not supported: \(trailer).")
            }
            guard case .streaming(_, trailer: true) = payload else {
                throw S3Error("InvalidRequest", "x-amz-trailer needs x-amz-content-sha256: STREAMING-…-TRAILER.")
            }
            found.append(Checksum(algorithm: algorithm, expected: nil))
        }
        guard found.count <= 1 else { throw S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.") }
        if let c = found.first, let expected = c.expected, !Self.isWellFormed(expected, algorithm: c.algorithm) {
            // s3-tests and clients expect BadDigest for a value that cannot be the algorithm's.
            throw S3Error("BadDigest", "The \(c.algorithm) you specified did not match the calculated checksum (it is not a \(c.algorithm) value).")
        }
        if let uploadAlgorithm {
            if let c = found.first, c.algorithm != uploadAlgorithm {
                throw S3Error("InvalidRequest", "Checksum Type mismatch occurred, expected checksum Type: \(uploadAlgorithm.lowercased()), actual checksum Type: \(c.algorithm.lowercased())")
            }
            if found.isEmpty { found.append(Checksum(algorithm: uploadAlgorithm, expected: nil, computed: true)) }
        }
        checksum = found.first
        let box = StateBox()
        if sha256 != nil { box.payload = MessageDigest(.sha256) }
        running = checksum.flatMap { S3RunningChecksum($0.algorithm) }
        state = NIOLockedValueBox(box)
    }

    var isNeeded: Bool { sha256 != nil || checksum != nil }

    static func isWellFormed(_ base64: String, algorithm: String) -> Bool {
        let width = ["CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32][algorithm] ?? 0
        return Data(base64Encoded: base64)?.count == width
    }

    /// The checksum an aws-chunked body's trailer brought, before the body's last byte is handed on.
    func receiveTrailer(_ value: String?) {
        state.withLockedValue { $0.trailerValue = value }
    }

    /// The checksum header to answer with: the declared one, or the trailer's (or the
    /// computed one) once the body has ended well.
    var checksumHeader: (String, String)? {
        guard let checksum, let value = value else { return nil }
        return (checksum.header, value)
    }

    /// The checksum's base64 value: declared, or once the body has ended well, the trailer's or
    /// the computed one.
    var value: String? {
        guard let checksum else { return nil }
        return checksum.expected ?? state.withLockedValue({ $0.failure == nil ? $0.trailerValue : nil })
    }

    /// Why the body failed, once it has.
    var failure: S3Error? { state.withLockedValue { $0.failure } }

    /// Records a failure found outside (the aws-chunked decoding), so `failure` tells it.
    func fail(_ error: S3Error) {
        state.withLockedValue { s in if s.failure == nil { s.failure = error } }
    }

    /// `body`, checked as it streams. With its `length` known, the check runs as the last
    /// byte arrives, before that chunk is handed on: a reader that stops at the length (the
    /// object PUT) never sees a bad body end.
    func wrap(_ body: RequestBody, length: Int64?) -> RequestBody {
        guard isNeeded else { return body }
        let seen = NIOLockedValueBox<(bytes: Int64, checked: Bool)>((0, false))
        return RequestBody(chunks: { [self] in
            if let chunk = try await body.next() {
                chunk.withUnsafeReadableBytes { raw in
                    if sha256 != nil { state.withLockedValue { $0.payload?.update(raw) } }
                    running?.update(raw)
                }
                let due = seen.withLockedValue { s -> Bool in
                    s.bytes += Int64(chunk.readableBytes)
                    guard let length, s.bytes >= length, !s.checked else { return false }
                    s.checked = true
                    return true
                }
                if due, let failure = finish() { throw failure }
                return chunk
            }
            // The end (also of an empty body, which brought no chunk): checked if not yet.
            let due = seen.withLockedValue { s -> Bool in
                defer { s.checked = true }
                return !s.checked
            }
            if due, let failure = finish() { throw failure }
            return nil
        })
    }

    /// The checks of a body known to be empty, run before anything is sent: a writer may
    /// commit an empty object without asking for its (absent) bytes.
    func checkEmpty() throws(S3Error) {
        if isNeeded, let failure = finish() { throw failure }
    }

    private func finish() -> S3Error? {
        state.withLockedValue { s in
            if let sha256, let got = s.payload?.finalizeHexAndReset(), got != sha256 {
                s.failure = S3Error("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.",
                                    details: [("ClientComputedContentSHA256", sha256), ("S3ComputedContentSHA256", got)])
            } else if let checksum {
                if checksum.computed { s.trailerValue = running?.base64() }
                guard let expected = checksum.expected ?? s.trailerValue, Self.isWellFormed(expected, algorithm: checksum.algorithm) else {
                    s.failure = S3Error("InvalidRequest", "Value for \(checksum.header) trailing header is invalid.")
                    return s.failure
                }
                if !checksum.computed, running?.base64() != expected {
                    s.failure = S3Error("BadDigest", "The \(checksum.algorithm) you specified did not match the calculated checksum.")
                }
            }
            return s.failure
        }
    }

    static let sysmeta = "X-Object-Sysmeta-S3api-Checksum"

    /// The checksum as stored with the object (system metadata, never shown to Swift clients),
    /// when the request's headers declare it; nil when it is known only after the body.
    var sysmetaHeader: (String, String)? {
        guard let checksum, let expected = checksum.expected else { return nil }
        return (Self.sysmeta, "\(checksum.algorithm):\(expected)")
    }

    /// The checksum a trailer brought or the bytes gave, as system metadata for the object
    /// servers' footers (asked for after the body has ended).
    var footerSysmeta: [(String, String)] {
        guard let checksum, checksum.expected == nil, let value else { return [] }
        return [(Self.sysmeta, "\(checksum.algorithm):\(value)")]
    }
}
