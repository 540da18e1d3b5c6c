import Digest
import Foundation

/// OpenSSH's key formats, as EC2 key pairs use them: the public line (`ssh-rsa AAAA… name`)
/// that ImportKeyPair receives and instances get in `authorized_keys`, and the
/// `OPENSSH PRIVATE KEY` file CreateKeyPair returns for Ed25519.
public enum SSHKeys {
    /// The public key blob (RFC 4253 §6.6 / RFC 8709) of an RSA or Ed25519 key.
    public static func publicBlob(_ key: PublicKey) throws(PKIError) -> [UInt8] {
        var w = SSHWire()
        if key.isRSA {
            let (n, e) = try key.rsaComponents()
            w.string("ssh-rsa")
            w.mpint(e)
            w.mpint(n)
        } else {
            w.string("ssh-ed25519")
            w.bytes(try key.rawEd25519())
        }
        return w.out
    }

    /// `ssh-rsa AAAA… comment`.
    public static func publicLine(_ key: PublicKey, comment: String) throws(PKIError) -> String {
        let blob = try publicBlob(key)
        let type = key.isRSA ? "ssh-rsa" : "ssh-ed25519"
        return "\(type) \(Data(blob).base64EncodedString())" + (comment.isEmpty ? "" : " \(comment)")
    }

    /// A parsed public line: its key and blob. Accepts `ssh-rsa` (≥ 1024 bits) and `ssh-ed25519`.
    public static func parsePublicLine(_ text: String) throws(PKIError) -> (key: PublicKey, blob: [UInt8]) {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard fields.count >= 2, let blobData = Data(base64Encoded: String(fields[1])) else {
            throw .invalid("Key is not in valid OpenSSH public key format")
        }
        let blob = Array(blobData)
        var r = SSHWireReader(blob)
        guard let type = r.string(), String(decoding: type, as: UTF8.self) == String(fields[0]) else {
            throw .invalid("Key is not in valid OpenSSH public key format")
        }
        switch String(fields[0]) {
        case "ssh-rsa":
            guard let e = r.string(), let n = r.string(), r.atEnd else { throw .invalid("Key is not in valid OpenSSH public key format") }
            let key = try PublicKey.rsa(modulus: Array(n.drop { $0 == 0 }), exponent: Array(e.drop { $0 == 0 }))
            guard key.bits >= 1024 else { throw .invalid("RSA keys must have at least 1024 bits") }
            return (key, blob)
        case "ssh-ed25519":
            guard let raw = r.string(), raw.count == 32, r.atEnd else { throw .invalid("Key is not in valid OpenSSH public key format") }
            let der = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00] + raw
            return (try PublicKey(der: der), blob)
        default:
            throw .invalid("Key type \(fields[0]) is not supported; use ssh-rsa or ssh-ed25519")
        }
    }

    /// An Ed25519 key as OpenSSH writes it (`-----BEGIN OPENSSH PRIVATE KEY-----`, unencrypted).
    public static func openSSHPrivateKey(_ key: PrivateKey, comment: String) throws(PKIError) -> String {
        let seed = try key.rawEd25519Seed()
        let pub = try key.publicKey().rawEd25519()
        let blob = try publicBlob(key.publicKey())
        var secret = SSHWire()
        let check = UInt32.random(in: 0...UInt32.max)
        secret.uint32(check)
        secret.uint32(check)
        secret.string("ssh-ed25519")
        secret.bytes(pub)
        secret.bytes(seed + pub)
        secret.string(comment)
        var pad: UInt8 = 1
        while secret.out.count % 8 != 0 {
            secret.out.append(pad)
            pad += 1
        }
        var w = SSHWire()
        w.out = Array("openssh-key-v1".utf8) + [0]
        w.string("none")
        w.string("none")
        w.string("")
        w.uint32(1)
        w.bytes(blob)
        w.bytes(secret.out)
        let b64 = Data(w.out).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN OPENSSH PRIVATE KEY-----\n\(b64)\n-----END OPENSSH PRIVATE KEY-----\n"
    }
}

/// SSH wire encoding (RFC 4251 §5), writing.
struct SSHWire {
    var out: [UInt8] = []

    mutating func uint32(_ v: UInt32) { out += [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    mutating func bytes(_ b: [UInt8]) {
        uint32(UInt32(b.count))
        out += b
    }
    mutating func string(_ s: String) { bytes(Array(s.utf8)) }
    /// A positive integer: a leading zero when the high bit is set.
    mutating func mpint(_ magnitude: [UInt8]) {
        let trimmed = Array(magnitude.drop { $0 == 0 })
        bytes(trimmed.first.map { $0 & 0x80 != 0 } == true ? [0] + trimmed : trimmed)
    }
}

/// SSH wire encoding, reading (bounds-checked: a short or lying length gives nil).
struct SSHWireReader {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { at == bytes.count }

    mutating func string() -> ArraySlice<UInt8>? {
        guard bytes.count - at >= 4 else { return nil }
        let n = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        guard bytes.count - at - 4 >= n else { return nil }
        defer { at += 4 + n }
        return bytes[(at + 4)..<(at + 4 + n)]
    }
}
