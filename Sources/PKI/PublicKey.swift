import CCrypto

/// A public key held by libcrypto (RSA or Ed25519): encrypts and verifies RSA PKCS#1 v1.5.
// @unchecked Sendable: as PrivateKey — the EVP_PKEY is never changed after init.
public final class PublicKey: @unchecked Sendable {
    let pkey: OpaquePointer

    init(owning pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }

    /// Reads a DER SubjectPublicKeyInfo.
    public convenience init(der: [UInt8]) throws(PKIError) {
        let bio = try MemoryBIO(der)
        guard let key = d2i_PUBKEY_bio(bio.bio, nil) else {
            ERR_clear_error()
            throw .invalid("not a DER public key")
        }
        self.init(owning: key)
    }

    /// An RSA key from modulus and exponent (big-endian, as in an `ssh-rsa` blob).
    public static func rsa(modulus: [UInt8], exponent: [UInt8]) throws(PKIError) -> PublicKey {
        guard !modulus.isEmpty, modulus.count <= 2048, !exponent.isEmpty, exponent.count <= 16,
              let key = nimbus_rsa_public_key(modulus, Int32(modulus.count), exponent, Int32(exponent.count)) else {
            ERR_clear_error()
            throw .invalid("not a valid RSA public key")
        }
        return PublicKey(owning: key)
    }

    public var isRSA: Bool { EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA }

    /// Key size in bits.
    public var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }

    /// RSA modulus and exponent, big-endian.
    public func rsaComponents() throws(PKIError) -> (modulus: [UInt8], exponent: [UInt8]) {
        guard isRSA else { throw .invalid("not an RSA key") }
        var n = [UInt8](repeating: 0, count: 2048), e = [UInt8](repeating: 0, count: 2048)
        var nlen: Int32 = 0, elen: Int32 = 0
        guard nimbus_rsa_components(pkey, &n, &nlen, &e, &elen, 2048) == 1 else { throw .crypto("RSA components") }
        return (Array(n[0..<Int(nlen)]), Array(e[0..<Int(elen)]))
    }

    /// Ed25519 only: the 32 raw public bytes.
    public func rawEd25519() throws(PKIError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var n = 32
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519, EVP_PKEY_get_raw_public_key(pkey, &out, &n) == 1, n == 32 else {
            throw .invalid("not an Ed25519 key")
        }
        return out
    }

    /// DER SubjectPublicKeyInfo (what AWS fingerprints, with MD5, for imported RSA keys).
    public func der() throws(PKIError) -> [UInt8] {
        let bio = try MemoryBIO()
        guard i2d_PUBKEY_bio(bio.bio, pkey) == 1 else { throw .crypto("public key write") }
        return bio.bytes
    }

    /// RSA PKCS#1 v1.5 encryption (the bundle's key and IV, for the cloud and for the user).
    public func encryptPKCS1(_ plaintext: [UInt8]) throws(PKIError) -> [UInt8] {
        guard isRSA else { throw .invalid("not an RSA key") }
        guard let ctx = EVP_PKEY_CTX_new(pkey, nil) else { throw .crypto("encrypt context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_encrypt_init(ctx) == 1, EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 else { throw .crypto("encrypt init") }
        var size = 0
        guard EVP_PKEY_encrypt(ctx, nil, &size, plaintext, plaintext.count) == 1 else { throw .crypto("encrypt size") }
        var out = [UInt8](repeating: 0, count: size)
        guard EVP_PKEY_encrypt(ctx, &out, &size, plaintext, plaintext.count) == 1 else {
            ERR_clear_error()
            throw .invalid("the message is too long for this key")
        }
        return Array(out[0..<size])
    }

    /// Checks an RSA PKCS#1 v1.5 SHA-1 signature.
    public func verifySHA1(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        guard isRSA, let md = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestVerifyInit(md, nil, EVP_sha1(), nil, pkey) == 1 else { return false }
        let ok = EVP_DigestVerify(md, signature, signature.count, message, message.count) == 1
        ERR_clear_error()
        return ok
    }
}
