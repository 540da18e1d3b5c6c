/// A person who uses the cloud (`nimbus manage user …`, Nova's `nova-manage user`).
public struct User: Sendable, Equatable, Codable {
    public var name: String
    /// Cloud administrators manage every project.
    public var isAdmin: Bool
    /// Microseconds since the epoch.
    public var createdAt: Int64
}

/// A tenant: its members, their roles, and the object-store account it owns (`AUTH_<name>`).
public struct Project: Sendable, Equatable, Codable {
    public var name: String
    public var manager: String
    public var createdAt: Int64

    /// The project's account in the object store.
    public var storageAccount: String { "AUTH_" + name }
}

/// A member's role in a project.
public enum ProjectRole: String, Sendable, Codable, CaseIterable {
    case admin, member
}

/// One user's EC2 credentials for one project (Nova gave each user-and-project pair its own).
public struct EC2Credential: Sendable, Equatable {
    public var accessKey: String
    public var secretKey: String
    public var user: String
    public var project: String
}

/// What the control plane refuses, with the reason a user reads.
public enum ControlPlaneError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case duplicate(String)
    case invalid(String)
    /// Still referenced by something else.
    case inUse(String)
    case corruptSecret(String)
    /// The thing is in a state that does not allow the request (an instance not running, …).
    case incorrectState(String)
    /// Nothing has room for it.
    case insufficientCapacity(String)

    public var description: String {
        switch self {
        case .notFound(let what): return "\(what) does not exist"
        case .duplicate(let what): return "\(what) already exists"
        case .invalid(let why), .inUse(let why), .incorrectState(let why), .insufficientCapacity(let why): return why
        case .corruptSecret(let what): return "the secret of \(what) cannot be decrypted (wrong key file?)"
        }
    }
}

/// Names of users and projects: what Nova accepted and what fits in an account name.
enum IdentityName {
    static func check(_ name: String, _ kind: String) throws(ControlPlaneError) {
        guard !name.isEmpty, name.utf8.count <= 64,
              name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                  || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }),
              name.first != "." else {
            throw .invalid("\(kind) name '\(name)' must be 1-64 letters, digits, '-', '_' or '.' (not starting with '.')")
        }
    }
}
