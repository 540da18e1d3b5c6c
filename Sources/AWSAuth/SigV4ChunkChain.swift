import Digest

/// The signatures of an `aws-chunked` body (`x-amz-content-sha256:
/// STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`), as AWS's "Transferring Payload in Multiple
/// Chunks" documents them: each chunk's signature covers the chunk's SHA-256 and the signature
/// before it, starting from the request's own (the seed), so chunks cannot be dropped,
/// reordered or changed; the trailing headers are signed the same way after the last chunk.
public struct SigV4ChunkChain: Sendable {
    private let signingKey: [UInt8]
    private let amzDate: String
    private let scope: String
    /// The signature the next chunk (or the trailer) chains from.
    public private(set) var previous: String

    /// The chain of a request whose header signature `auth` was verified with `secret`.
    public init(secret: String, auth: SigV4.Authorization) {
        self.init(signingKey: SigV4.signingKey(secret: secret, auth: auth), amzDate: auth.amzDate, scope: auth.scope, seed: auth.signature)
    }

    public init(signingKey: [UInt8], amzDate: String, scope: String, seed: String) {
        self.signingKey = signingKey
        self.amzDate = amzDate
        self.scope = scope
        self.previous = seed
    }

    private static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The signature a chunk whose bytes hash to `sha256Hex` must carry next.
    public func chunkSignature(sha256Hex: String) -> String {
        sign(["AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous, Self.emptySHA256, sha256Hex])
    }

    /// The signature the trailing headers must carry: over `name:value\n` of each, in order.
    public func trailerSignature(_ trailers: [(name: String, value: String)]) -> String {
        let canonical = trailers.map { "\($0.name):\($0.value)\n" }.joined()
        return sign(["AWS4-HMAC-SHA256-TRAILER", amzDate, scope, previous, Digests.sha256Hex(Array(canonical.utf8))])
    }

    /// Checks the next chunk's `signature` (constant time) and, if it is right, moves the chain on.
    public mutating func accept(chunkSHA256Hex: String, signature: String) -> Bool {
        advance(expected: chunkSignature(sha256Hex: chunkSHA256Hex), signature: signature)
    }

    /// Checks the trailer's `x-amz-trailer-signature`.
    public mutating func acceptTrailer(_ trailers: [(name: String, value: String)], signature: String) -> Bool {
        advance(expected: trailerSignature(trailers), signature: signature)
    }

    private mutating func advance(expected: String, signature: String) -> Bool {
        guard Digests.constantTimeEqual(Array(expected.utf8), Array(signature.lowercased().utf8)) else { return false }
        previous = expected
        return true
    }

    private func sign(_ lines: [String]) -> String {
        Hex.encode(Digests.hmac(.sha256, key: signingKey, message: Array(lines.joined(separator: "\n").utf8)))
    }
}
