/// An EC2 key pair of a project: its name, AWS-style fingerprint and OpenSSH public line (what
/// instances get in `authorized_keys`). The private half is handed out once and never stored.
public struct KeyPair: Sendable, Equatable, Codable {
    public var project: String
    public var name: String
    public var fingerprint: String
    public var publicKey: String
    /// `rsa` or `ed25519`.
    public var keyType: String
    public var createdAt: Int64

    public init(project: String, name: String, fingerprint: String, publicKey: String, keyType: String, createdAt: Int64 = 0) {
        self.project = project
        self.name = name
        self.fingerprint = fingerprint
        self.publicKey = publicKey
        self.keyType = keyType
        self.createdAt = createdAt
    }
}
