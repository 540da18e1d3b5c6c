import Foundation
import PKI

/// The cloud's own key pair and self-signed certificate (`cloud-key.pem`, `cloud-cert.pem` in
/// the control directory): bundles are encrypted for this certificate, and it signs the users'
/// certificates that `project zipfile` hands out — Nova's CA, in one place.
public struct CloudAuthority: Sendable {
    public let key: PrivateKey
    public let certificate: Certificate
    public let keyPath: String
    public let certificatePath: String

    /// Loads the cloud's key and certificate from `directory`, making them on first use (the key
    /// file owner-only) unless `create` is false: a host that reaches another host's control
    /// plane must use that cloud's pair, never make its own.
    public static func open(directory: String, create: Bool = true) throws -> CloudAuthority {
        let keyPath = (directory as NSString).appendingPathComponent("cloud-key.pem")
        let certPath = (directory as NSString).appendingPathComponent("cloud-cert.pem")
        let fm = FileManager.default
        if fm.fileExists(atPath: keyPath) != fm.fileExists(atPath: certPath) {
            // Never make a new key beside an old certificate (or the reverse): every bundle made
            // for the old pair would become unreadable. The operator restores the missing file.
            throw ControlPlaneError.invalid("\(directory) holds only one of cloud-key.pem and cloud-cert.pem; restore the other")
        }
        if let keyPEM = fm.contents(atPath: keyPath), let certPEM = fm.contents(atPath: certPath) {
            return CloudAuthority(key: try PrivateKey(pem: Array(keyPEM)), certificate: try Certificate(pem: Array(certPEM)),
                                  keyPath: keyPath, certificatePath: certPath)
        }
        guard create else {
            throw ControlPlaneError.invalid("\(directory) lacks the cloud's cloud-key.pem and cloud-cert.pem: copy them from the cloud's control directory")
        }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = try PrivateKey.generate(.rsa, bits: 2048)
        let cert = try Certificate.make(for: key, commonName: "Nimbus cloud", days: 3650)
        try AtomicWrite.write(Data(try key.pem().utf8), to: keyPath, mode: 0o600)
        try AtomicWrite.write(Data(try cert.pem().utf8), to: certPath, mode: 0o644)
        return CloudAuthority(key: key, certificate: cert, keyPath: keyPath, certificatePath: certPath)
    }

    /// A new key and certificate for `user` in `project`, signed by the cloud.
    public func issue(user: String, project: String) throws -> (key: PrivateKey, certificate: Certificate) {
        let key = try PrivateKey.generate(.rsa, bits: 2048)
        let name = String("\(project)-\(user)".prefix(64))
        return (key, try Certificate.make(for: key, commonName: name, issuer: (self.key, certificate), days: 365))
    }
}

/// Writes a file whole or not at all (temp file, then rename), with its mode.
enum AtomicWrite {
    static func write(_ data: Data, to path: String, mode: Int) throws {
        let tmp = path + ".tmp-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: mode]) else {
            throw ControlPlaneError.invalid("cannot write \(path)")
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw ControlPlaneError.invalid("cannot write \(path)")
        }
    }
}
