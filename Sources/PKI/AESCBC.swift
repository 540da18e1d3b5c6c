import CCrypto

/// AES-128-CBC with PKCS#7 padding, streamed (bundles are encrypted with it: `openssl enc
/// -aes-128-cbc`). One direction per instance; `finish()` once at the end.
public final class AESCBC {
    private let ctx: OpaquePointer
    private let encrypting: Bool
    private var finished = false

    /// - Parameters: key and iv: 16 bytes each.
    public init(key: [UInt8], iv: [UInt8], encrypt: Bool) throws(PKIError) {
        guard key.count == 16, iv.count == 16 else { throw .invalid("AES-128-CBC takes a 16-byte key and IV") }
        guard let c = EVP_CIPHER_CTX_new() else { throw .crypto("cipher context") }
        ctx = c
        encrypting = encrypt
        guard EVP_CipherInit_ex(c, EVP_aes_128_cbc(), nil, key, iv, encrypt ? 1 : 0) == 1 else { throw .crypto("cipher init") }
    }

    deinit { EVP_CIPHER_CTX_free(ctx) }

    public func update(_ input: [UInt8]) throws(PKIError) -> [UInt8] {
        guard !input.isEmpty else { return [] }
        var out = [UInt8](repeating: 0, count: input.count + 16)
        var n: Int32 = 0
        var start = 0
        // EVP takes an Int32 length: feed big inputs in slices.
        var produced = 0
        while start < input.count {
            let count = min(1 << 30, input.count - start)
            let ok: Int32 = input.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    guard let s = src.baseAddress, let d = dst.baseAddress else { return 0 }
                    return EVP_CipherUpdate(ctx, d + produced, &n, s + start, Int32(count))
                }
            }
            guard ok == 1 else { throw .crypto("cipher update") }
            produced += Int(n)
            start += count
        }
        return Array(out[0..<produced])
    }

    /// The last block: padding when encrypting; checks and strips it when decrypting.
    public func finish() throws(PKIError) -> [UInt8] {
        guard !finished else { return [] }
        finished = true
        var out = [UInt8](repeating: 0, count: 32)
        var n: Int32 = 0
        guard EVP_CipherFinal_ex(ctx, &out, &n) == 1 else {
            ERR_clear_error()
            throw encrypting ? .crypto("cipher final") : .invalid("bad padding: wrong key or truncated data")
        }
        return Array(out[0..<Int(n)])
    }
}
