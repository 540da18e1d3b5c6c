import CCrypto

/// AES-256-GCM through the system's libcrypto: secrets that must be stored but never stored in
/// the clear (the control plane's EC2 secret keys — SigV4 needs the secret itself, so it cannot
/// be hashed). The 32-byte key lives outside the database that holds the sealed values.
public struct SealedBox: Sendable {
    public enum Failure: Error, Equatable { case badKey, corrupt, crypto }

    private let key: [UInt8]

    /// - Parameter key: 32 bytes.
    public init(key: [UInt8]) throws(Failure) {
        guard key.count == 32 else { throw .badKey }
        self.key = key
    }

    /// A fresh random key.
    public static func newKey() -> [UInt8] { Digests.randomBytes(32) }

    /// nonce (12) ‖ ciphertext ‖ tag (16).
    public func seal(_ plaintext: [UInt8]) throws(Failure) -> [UInt8] {
        let nonce = Digests.randomBytes(12)
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .crypto }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var n: Int32 = 0, final: Int32 = 0
        var tag = [UInt8](repeating: 0, count: 16)
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1,
              EVP_EncryptUpdate(ctx, &out, &n, plaintext, Int32(plaintext.count)) == 1,
              out.withUnsafeMutableBufferPointer({ EVP_EncryptFinal_ex(ctx, $0.baseAddress.map { $0 + Int(n) }, &final) }) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, &tag) == 1 else { throw .crypto }
        return nonce + out[0..<Int(n + final)] + tag
    }

    /// The plaintext, or `.corrupt` when the box was altered or sealed with another key.
    public func open(_ box: [UInt8]) throws(Failure) -> [UInt8] {
        guard box.count >= 28 else { throw .corrupt }
        let nonce = Array(box[0..<12]), tag = Array(box[(box.count - 16)...]), body = Array(box[12..<(box.count - 16)])
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .crypto }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: body.count + 16)
        var n: Int32 = 0, final: Int32 = 0
        var expected = tag
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1,
              EVP_DecryptUpdate(ctx, &out, &n, body, Int32(body.count)) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, &expected) == 1 else { throw .crypto }
        let ok = out.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(ctx, $0.baseAddress.map { $0 + Int(n) }, &final) }
        guard ok == 1 else { throw .corrupt }
        return Array(out[0..<Int(n + final)])
    }
}
