import CCrypto
import Digest

/// An RSA or Ed25519 private key held by libcrypto: made fresh or read from PEM; writes PEM,
/// decrypts and signs RSA PKCS#1 v1.5 (the EC2 bundle format and key pairs need exactly these).
// @unchecked Sendable: the EVP_PKEY is never changed after init, and libcrypto 3 allows one key
// to be used from several threads at once (every operation makes its own EVP_PKEY_CTX).
public final class PrivateKey: @unchecked Sendable {
    /// The key kinds EC2 key pairs come in.
    public enum Kind: String, Sendable { case rsa, ed25519 }

    let pkey: OpaquePointer
    public let kind: Kind

    init(pkey: OpaquePointer) throws(PKIError) {
        self.pkey = pkey
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_RSA: kind = .rsa
        case EVP_PKEY_ED25519: kind = .ed25519
        default:
            EVP_PKEY_free(pkey)
            throw .invalid("only RSA and Ed25519 keys are supported")
        }
    }

    deinit { EVP_PKEY_free(pkey) }

    /// A new RSA key (`bits` from 1024 to 16384) or Ed25519 key.
    public static func generate(_ kind: Kind, bits: Int = 2048) throws(PKIError) -> PrivateKey {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, kind == .rsa ? "RSA" : "ED25519", nil) else { throw .crypto("key context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1 else { throw .crypto("keygen init") }
        if kind == .rsa {
            guard (1024...16384).contains(bits) else { throw .invalid("RSA keys have 1024 to 16384 bits") }
            guard EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(bits)) == 1 else { throw .crypto("RSA bits") }
        }
        var out: OpaquePointer?
        guard EVP_PKEY_generate(ctx, &out) == 1, let out else { throw .crypto("keygen") }
        return try PrivateKey(pkey: out)
    }

    /// Reads a PEM private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`, unencrypted).
    public convenience init(pem: [UInt8]) throws(PKIError) {
        let bio = try MemoryBIO(pem)
        guard let key = PEM_read_bio_PrivateKey(bio.bio, nil, nil, nil) else {
            ERR_clear_error()
            throw .invalid("not an unencrypted PEM private key")
        }
        try self.init(pkey: key)
    }

    /// PEM as OpenSSL's traditional form: `RSA PRIVATE KEY` (PKCS#1) for RSA — what EC2 returns
    /// from CreateKeyPair — and PKCS#8 for Ed25519, which has no traditional form.
    public func pem() throws(PKIError) -> String {
        let bio = try MemoryBIO()
        let ok = kind == .rsa ? PEM_write_bio_PrivateKey_traditional(bio.bio, pkey, nil, nil, 0, nil, nil)
                              : PEM_write_bio_PrivateKey(bio.bio, pkey, nil, nil, 0, nil, nil)
        guard ok == 1 else { throw .crypto("PEM write") }
        return String(decoding: bio.bytes, as: UTF8.self)
    }

    /// The key as unencrypted PKCS#8 DER (what AWS fingerprints for keys it made).
    public func pkcs8DER() throws(PKIError) -> [UInt8] {
        let bio = try MemoryBIO()
        guard i2d_PKCS8PrivateKey_bio(bio.bio, pkey, nil, nil, 0, nil, nil) == 1 else { throw .crypto("PKCS#8 write") }
        return bio.bytes
    }

    /// The public half.
    public func publicKey() throws(PKIError) -> PublicKey {
        let bio = try MemoryBIO()
        guard i2d_PUBKEY_bio(bio.bio, pkey) == 1 else { throw .crypto("public key write") }
        return try PublicKey(der: bio.bytes)
    }

    /// Ed25519 only: the 32-byte seed.
    public func rawEd25519Seed() throws(PKIError) -> [UInt8] {
        guard kind == .ed25519 else { throw .invalid("not an Ed25519 key") }
        var out = [UInt8](repeating: 0, count: 32)
        var n = 32
        guard EVP_PKEY_get_raw_private_key(pkey, &out, &n) == 1, n == 32 else { throw .crypto("raw private key") }
        return out
    }

    /// RSA PKCS#1 v1.5 decryption.
    public func decryptPKCS1(_ ciphertext: [UInt8]) throws(PKIError) -> [UInt8] {
        guard kind == .rsa else { throw .invalid("not an RSA key") }
        guard let ctx = EVP_PKEY_CTX_new(pkey, nil) else { throw .crypto("decrypt context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_decrypt_init(ctx) == 1, EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 else { throw .crypto("decrypt init") }
        var size = 0
        guard EVP_PKEY_decrypt(ctx, nil, &size, ciphertext, ciphertext.count) == 1 else {
            ERR_clear_error()
            throw .invalid("the ciphertext does not fit this key")
        }
        var out = [UInt8](repeating: 0, count: size)
        guard EVP_PKEY_decrypt(ctx, &out, &size, ciphertext, ciphertext.count) == 1 else {
            ERR_clear_error()
            throw .invalid("cannot decrypt: not encrypted for this key")
        }
        return Array(out[0..<size])
    }

    /// An RSA PKCS#1 v1.5 signature over SHA-1 of `message` (the bundle manifest's signature).
    public func signSHA1(_ message: [UInt8]) throws(PKIError) -> [UInt8] {
        guard kind == .rsa else { throw .invalid("not an RSA key") }
        guard let md = EVP_MD_CTX_new() else { throw .crypto("digest context") }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestSignInit(md, nil, EVP_sha1(), nil, pkey) == 1 else { throw .crypto("sign init") }
        var size = 0
        guard EVP_DigestSign(md, nil, &size, message, message.count) == 1 else { throw .crypto("sign size") }
        var out = [UInt8](repeating: 0, count: size)
        guard EVP_DigestSign(md, &out, &size, message, message.count) == 1 else { throw .crypto("sign") }
        return Array(out[0..<size])
    }
}
