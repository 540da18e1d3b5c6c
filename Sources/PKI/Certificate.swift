import CCrypto

/// An X.509 certificate: the cloud's (bundles are encrypted for it) and each user's (their
/// bundles are signed by the matching key), as `nova-manage project zipfile` handed them out.
// @unchecked Sendable: the X509 is never changed after init; reading it from several threads is
// safe in libcrypto 3.
public final class Certificate: @unchecked Sendable {
    let x509: OpaquePointer

    init(owning x509: OpaquePointer) { self.x509 = x509 }

    deinit { X509_free(x509) }

    /// Reads a PEM certificate.
    public convenience init(pem: [UInt8]) throws(PKIError) {
        let bio = try MemoryBIO(pem)
        guard let x = PEM_read_bio_X509(bio.bio, nil, nil, nil) else {
            ERR_clear_error()
            throw .invalid("not a PEM certificate")
        }
        self.init(owning: x)
    }

    /// A certificate for `key` named `commonName`, signed by `issuer` (its key and certificate),
    /// or self-signed when `issuer` is nil. Valid from now for `days`.
    public static func make(for key: PrivateKey, commonName: String, organization: String = "Nimbus",
                            issuer: (key: PrivateKey, certificate: Certificate)? = nil, days: Int = 3650) throws(PKIError) -> Certificate {
        guard !commonName.isEmpty, commonName.utf8.count <= 64, !commonName.utf8.contains(0) else {
            throw .invalid("a certificate's common name has 1 to 64 characters")
        }
        let serial = Int(UInt32.random(in: 1...UInt32.max))
        let signer = issuer?.key ?? key
        guard let x = nimbus_x509_make(key.pkey, commonName, organization, signer.pkey, issuer?.certificate.x509, serial, days) else {
            ERR_clear_error()
            throw .crypto("certificate")
        }
        return Certificate(owning: x)
    }

    public func pem() throws(PKIError) -> String {
        let bio = try MemoryBIO()
        guard PEM_write_bio_X509(bio.bio, x509) == 1 else { throw .crypto("PEM write") }
        return String(decoding: bio.bytes, as: UTF8.self)
    }

    /// The certified public key.
    public func publicKey() throws(PKIError) -> PublicKey {
        guard let key = X509_get_pubkey(x509) else { throw .invalid("the certificate's key cannot be read") }
        return PublicKey(owning: key)
    }
}
