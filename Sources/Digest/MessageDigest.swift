import CCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The digest algorithms Nimbus needs, all computed by the system's libcrypto (EVP).
public enum DigestAlgorithm: Sendable {
    case md5, sha1, sha256, sha512

    var evp: OpaquePointer? {
        switch self {
        case .md5: return EVP_md5()
        case .sha1: return EVP_sha1()
        case .sha256: return EVP_sha256()
        case .sha512: return EVP_sha512()
        }
    }
}

/// A streaming message digest over libcrypto's EVP interface.
///
/// Non-copyable so that the underlying `EVP_MD_CTX` has exactly one owner; it is the ETag
/// path of every object PUT and GET, so it must run at libcrypto's full speed.
public struct MessageDigest: ~Copyable {
    private let ctx: OpaquePointer
    private let algorithm: DigestAlgorithm

    /// Starts a new digest computation.
    public init(_ algorithm: DigestAlgorithm) {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        EVP_DigestInit_ex(ctx, algorithm.evp, nil)
        self.ctx = ctx
        self.algorithm = algorithm
    }

    /// Returns the hex digest of everything fed so far and starts over (for owners that keep
    /// the digest as a stored property and cannot consume it).
    public mutating func finalizeHexAndReset() -> String {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &length) }
        EVP_DigestInit_ex(ctx, algorithm.evp, nil)
        return Hex.encode(out.prefix(Int(length)))
    }

    deinit { EVP_MD_CTX_free(ctx) }

    /// Feeds bytes into the digest.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
    }

    /// Feeds any contiguous byte collection into the digest.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            let array = Array(bytes)
            array.withUnsafeBytes { update($0) }
        }
    }

    /// Feeds the UTF-8 bytes of a string into the digest.
    public mutating func update(_ string: String) {
        var s = string
        s.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// Ends the computation and returns the raw digest bytes.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(ctx, $0.baseAddress, &length) }
        return Array(out.prefix(Int(length)))
    }

    /// Ends the computation and returns the digest as lowercase hex.
    public consuming func finalizeHex() -> String {
        Hex.encode(finalize())
    }
}

/// One-shot helpers.
public enum Digests {
    /// Lowercase hex MD5 of `bytes`.
    public static func md5Hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var d = MessageDigest(.md5)
        d.update(bytes)
        return d.finalizeHex()
    }

    /// The digest of `bytes` with `algorithm`.
    public static func digest<Bytes: Sequence>(_ algorithm: DigestAlgorithm, _ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var d = MessageDigest(algorithm)
        d.update(bytes)
        return d.finalize()
    }

    /// Lowercase hex MD5 of a string's UTF-8 bytes.
    public static func md5Hex(_ string: String) -> String {
        var d = MessageDigest(.md5)
        d.update(string)
        return d.finalizeHex()
    }

    /// Raw MD5 of a string's UTF-8 bytes.
    public static func md5(_ string: String) -> [UInt8] {
        var d = MessageDigest(.md5)
        d.update(string)
        return d.finalize()
    }

    /// HMAC of `message` with `key` (used by tempurl and formpost).
    public static func hmac(_ algorithm: DigestAlgorithm, key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                _ = out.withUnsafeMutableBufferPointer { o in
                    HMAC(algorithm.evp, k.baseAddress, Int32(k.count), m.baseAddress?.assumingMemoryBound(to: UInt8.self),
                         m.count, o.baseAddress, &length)
                }
            }
        }
        return Array(out.prefix(Int(length)))
    }

    /// Cryptographically random bytes from libcrypto.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { _ = RAND_bytes($0.baseAddress, Int32(count)) }
        return out
    }
}

extension Digests {
    /// Compares secrets (signatures, keys) in time that depends only on their lengths. This
    /// form for byte arrays: the generic one below, unspecialized across modules, was a
    /// visible share of every signed request's CPU.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count { diff |= pa[i] ^ pb[i] }
            }
        }
        return diff == 0
    }

    /// Compares secrets (signatures, keys) in time that depends only on their lengths.
    public static func constantTimeEqual<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }

    /// SHA-256 of `bytes` as lowercase hex.
    public static func sha256Hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var d = MessageDigest(.sha256)
        d.update(bytes)
        return d.finalizeHex()
    }

    /// SHA-256 of a file's contents as lowercase hex, nil when it cannot be read (blocking:
    /// thread pools only).
    public static func sha256Hex(ofFile path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var d = MessageDigest(.sha256)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { break }
            d.update(buffer[..<n])
        }
        return d.finalizeHex()
    }
}
