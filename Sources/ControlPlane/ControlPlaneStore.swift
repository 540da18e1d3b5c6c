/// Where the control plane's state lives — users, projects, memberships, EC2 credentials (and,
/// as compute lands, images, key pairs, groups, addresses, instances). One protocol, two
/// engines: SQLite for one host (the default) and PostgreSQL for a control plane spread over
/// several hosts.
public protocol ControlPlaneStore: Sendable {
    /// Brings the schema up to date (versioned migrations; idempotent).
    func migrate() async throws

    func createUser(_ name: String, admin: Bool) async throws -> User
    func user(_ name: String) async throws -> User?
    func users() async throws -> [User]
    func setAdmin(_ name: String, _ admin: Bool) async throws
    /// Removes the user, its memberships and credentials.
    func deleteUser(_ name: String) async throws

    /// Creates a project managed (and joined, as `admin`) by `manager`.
    func createProject(_ name: String, manager: String) async throws -> Project
    func project(_ name: String) async throws -> Project?
    func projects() async throws -> [Project]
    func addMember(_ user: String, to project: String, role: ProjectRole) async throws
    func removeMember(_ user: String, from project: String) async throws
    /// Members and their roles, by name.
    func members(of project: String) async throws -> [(user: String, role: ProjectRole)]
    func deleteProject(_ name: String) async throws

    /// The user's credentials for the project, made on first use (members only).
    func credentials(user: String, project: String) async throws -> EC2Credential
    /// The credentials an access key names (to check a request's signature), nil if unknown.
    func credentials(accessKey: String) async throws -> EC2Credential?
}
