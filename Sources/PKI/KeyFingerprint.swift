import Digest
import Foundation

/// Key pair fingerprints exactly as EC2 shows them, so users can compare with AWS's
/// documented `openssl` commands:
/// - RSA key pairs EC2 made: SHA-1 of the PKCS#8 DER private key, colon-separated hex
///   (`openssl pkcs8 -topk8 -nocrypt -outform DER | openssl sha1 -c`);
/// - imported RSA keys: MD5 of the DER public key (`openssl rsa -pubout -outform DER | openssl md5 -c`);
/// - Ed25519 (made or imported): base64 of the SHA-256 of the OpenSSH public blob.
public enum KeyFingerprint {
    public static func created(_ key: PrivateKey) throws(PKIError) -> String {
        switch key.kind {
        case .rsa: return colonHex(Digests.digest(.sha1, try key.pkcs8DER()))
        case .ed25519: return try ed25519(SSHKeys.publicBlob(key.publicKey()))
        }
    }

    public static func imported(_ key: PublicKey, blob: [UInt8]) throws(PKIError) -> String {
        key.isRSA ? colonHex(Digests.digest(.md5, try key.der())) : ed25519(blob)
    }

    static func ed25519(_ blob: [UInt8]) -> String {
        Data(Digests.digest(.sha256, blob)).base64EncodedString()
    }

    static func colonHex(_ bytes: [UInt8]) -> String {
        bytes.map { Hex.encode([$0]) }.joined(separator: ":")
    }
}
