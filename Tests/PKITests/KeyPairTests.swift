import Digest
import Foundation
import PKI
import Testing

@Suite struct KeyPairTests {
    func fixture(_ name: String) throws -> [UInt8] {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return Array(try Data(contentsOf: dir.appendingPathComponent(name)))
    }

    @Test func fingerprintsMatchWhatAWSsDocumentedCommandsPrint() throws {
        let key = try PrivateKey(pem: try fixture("rsa.pem"))
        #expect(try KeyFingerprint.created(key) == "47:25:c7:9c:a4:7d:b0:8f:8a:d8:b7:9a:6d:7e:0c:db:fd:d2:28:28")
        let (pub, blob) = try SSHKeys.parsePublicLine(String(decoding: try fixture("rsa.pub"), as: UTF8.self))
        #expect(try KeyFingerprint.imported(pub, blob: blob) == "a1:67:dd:3f:dd:90:8b:45:07:6a:b8:f7:3f:7d:d0:0e")
        let (ed, edBlob) = try SSHKeys.parsePublicLine(String(decoding: try fixture("ed.pub"), as: UTF8.self))
        #expect(try KeyFingerprint.imported(ed, blob: edBlob) == "L0CwH2Pk/w6HEdGIxxuRHBC3Hw77GAyxJCW4ZRhZ+xk=")
    }

    @Test func thePublicLineOfAKeyIsWhatSSHKeygenDerives() throws {
        let key = try PrivateKey(pem: try fixture("rsa.pem"))
        let expected = String(decoding: try fixture("rsa.pub"), as: UTF8.self).split(whereSeparator: \.isWhitespace).prefix(2).joined(separator: " ")
        #expect(try SSHKeys.publicLine(key.publicKey(), comment: "") == expected)
    }

    @Test func newKeysRoundTripThroughPEM() throws {
        let rsa = try PrivateKey.generate(.rsa, bits: 2048)
        let again = try PrivateKey(pem: Array(try rsa.pem().utf8))
        #expect(try again.pem().hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        #expect(try KeyFingerprint.created(rsa) == KeyFingerprint.created(again))
        let ed = try PrivateKey.generate(.ed25519)
        let text = try SSHKeys.openSSHPrivateKey(ed, comment: "k")
        #expect(text.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----\n"))
        let line = try SSHKeys.publicLine(ed.publicKey(), comment: "k")
        let (parsed, blob) = try SSHKeys.parsePublicLine(line)
        #expect(try parsed.rawEd25519() == ed.publicKey().rawEd25519())
        #expect(try KeyFingerprint.imported(parsed, blob: blob) == KeyFingerprint.created(ed))
    }

    @Test func rsaEncryptsForTheKeyAndSignaturesCatchChanges() throws {
        let key = try PrivateKey.generate(.rsa, bits: 2048)
        let other = try PrivateKey.generate(.rsa, bits: 2048)
        let secret = Array("00112233445566778899aabbccddeeff".utf8)
        let sealed = try key.publicKey().encryptPKCS1(secret)
        #expect(try key.decryptPKCS1(sealed) == secret)
        #expect(throws: PKIError.self) { try other.decryptPKCS1(sealed) }
        let message = Array("<machine_configuration/>".utf8)
        let signature = try key.signSHA1(message)
        #expect(try key.publicKey().verifySHA1(signature, of: message))
        #expect(try !key.publicKey().verifySHA1(signature, of: message + [0x20]))
        #expect(try !other.publicKey().verifySHA1(signature, of: message))
    }

    @Test func certificatesCarryTheirKeyAndSurvivePEM() throws {
        let ca = try PrivateKey.generate(.rsa, bits: 2048)
        let caCert = try Certificate.make(for: ca, commonName: "cloud")
        let user = try PrivateKey.generate(.rsa, bits: 2048)
        let cert = try Certificate.make(for: user, commonName: "alice-proj", issuer: (ca, caCert))
        let again = try Certificate(pem: Array(try cert.pem().utf8))
        #expect(try again.publicKey().der() == user.publicKey().der())
        #expect(throws: PKIError.self) { try Certificate(pem: Array("-----BEGIN CERTIFICATE-----\nAAAA\n".utf8)) }
    }

    @Test func malformedPublicKeysAreRefusedWithAReason() {
        for bad in ["", "ssh-rsa", "ssh-rsa !!!", "ssh-dss AAAAB3NzaC1kc3MAAAA=", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB",
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQG", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBQGJJc9txqhbLPTGFgfFY/qALUpIT5W1RV1LBH2ECEC"] {
            #expect(throws: PKIError.self, "\(bad)") { try SSHKeys.parsePublicLine(bad) }
        }
    }

    @Test func aesCBCMatchesOpenSSLsPaddingAndRefusesTheWrongKey() throws {
        let key = Array(repeating: UInt8(7), count: 16), iv = Array(repeating: UInt8(9), count: 16)
        let plain = Array((0..<1000).map { UInt8($0 % 251) })
        let enc = try AESCBC(key: key, iv: iv, encrypt: true)
        let sealed = try enc.update(Array(plain[0..<333])) + enc.update(Array(plain[333...])) + enc.finish()
        #expect(sealed.count == 1008)
        let dec = try AESCBC(key: key, iv: iv, encrypt: false)
        #expect(try dec.update(sealed) + dec.finish() == plain)
        let wrong = try AESCBC(key: Array(repeating: 1, count: 16), iv: iv, encrypt: false)
        _ = try wrong.update(sealed)
        #expect(throws: PKIError.self) { try wrong.finish() }
    }
}
