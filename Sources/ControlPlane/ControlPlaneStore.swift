/// Where the control plane's state lives — users, projects, memberships, credentials, key
/// pairs, security groups, floating addresses and images. One protocol, two engines: SQLite
/// for one host (the default) and PostgreSQL for a control plane spread over several hosts.
/// Calls that name a project act only within it: the API checks the caller's project, the
/// store never crosses it unless a call says so.
public protocol ControlPlaneStore: Sendable {
    /// Brings the schema up to date (versioned migrations; idempotent).
    func migrate() async throws

    func createUser(_ name: String, admin: Bool) async throws -> User
    func user(_ name: String) async throws -> User?
    func users() async throws -> [User]
    func setAdmin(_ name: String, _ admin: Bool) async throws
    /// Removes the user, its memberships and credentials.
    func deleteUser(_ name: String) async throws

    /// Creates a project managed (and joined, as `admin`) by `manager`, with its `default` security group.
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
    /// The user's object-store key for the project account (`project:user` in tempauth terms),
    /// made on first use (members only).
    func storageKey(user: String, project: String) async throws -> String
    /// Whether `key` is the user's object-store key for the project (checked against a salted
    /// hash; false for non-members).
    func checkStorageKey(user: String, project: String, key: String) async throws -> Bool
    /// The user's X.509 certificates for the project (PEM each), as `project zipfile` made
    /// them: the newest few, oldest first.
    func certificates(user: String, project: String) async throws -> [String]
    /// Records a newly issued certificate (members only); the oldest beyond the kept few go.
    func addCertificate(_ pem: String, user: String, project: String) async throws

    /// Adds a key pair; `duplicate` when the project has one of that name.
    func addKeyPair(_ pair: KeyPair) async throws
    /// The project's key pairs, by name (all when `names` is empty).
    func keyPairs(project: String, names: [String]) async throws -> [KeyPair]
    /// Removes a key pair; true if it existed.
    func deleteKeyPair(project: String, name: String) async throws -> Bool

    func createSecurityGroup(project: String, name: String, description: String) async throws -> SecurityGroup
    /// The project's groups with their rules, sorted by name.
    func securityGroups(project: String) async throws -> [SecurityGroup]
    /// Refused while another group's rule names it as a source.
    func deleteSecurityGroup(project: String, id: String) async throws
    /// Adds rules all or nothing; `duplicate` when one exists already.
    func authorize(project: String, groupID: String, rules: [SecurityRule]) async throws
    /// Removes rules all or nothing; `notFound` when one does not exist.
    func revoke(project: String, groupID: String, rules: [SecurityRule]) async throws

    /// Allocates the lowest free address of `pool` to the project; nil when the pool is used up.
    func allocateAddress(project: String, pool: [String]) async throws -> FloatingAddress?
    func addresses(project: String) async throws -> [FloatingAddress]
    /// Releases an address of the project; `notFound` if it has no such address.
    func releaseAddress(project: String, ip: String) async throws

    func addImage(_ image: ImageRecord) async throws
    func image(_ id: String) async throws -> ImageRecord?
    /// Every image (callers filter by what the caller may see).
    func images() async throws -> [ImageRecord]
    /// Moves an image to `available` (with its size) or `failed` (with a reason).
    func setImageState(_ id: String, _ state: ImageRecord.State, reason: String?, size: Int64) async throws
    func setImageLaunchPermission(_ id: String, isPublic: Bool, projects: [String]) async throws
    func deleteImage(_ id: String) async throws

    /// Records RunInstances' instances all or nothing (placed, with fixed addresses, each with a
    /// `spawn` task); a `clientToken` seen before in the project answers the earlier instances.
    func launch(_ request: LaunchRequest) async throws -> [Instance]
    /// The project's instances (every project's when nil), terminated ones for an hour after.
    func instances(project: String?) async throws -> [Instance]
    func instance(_ id: String) async throws -> Instance?
    /// The live instance holding a fixed address (the metadata service's question).
    func instance(fixedIP: String) async throws -> Instance?
    /// Queues a task on the project's instances, moving each to the state it implies;
    /// `incorrectState` when one cannot (rebooting a stopped instance…), nothing changed then.
    func requestTask(_ task: Instance.Task, project: String, ids: [String]) async throws -> [(instance: Instance, previous: Instance.State)]

    /// A compute worker's capacity report and heartbeat.
    func reportHost(_ host: ComputeHost, worker: String) async throws
    /// Every host with what its instances use.
    func computeHosts() async throws -> [ComputeHost]
    /// Frees the host's claimed work (a worker starting again: what its predecessor claimed is retried).
    func releaseClaims(host: String) async throws
    /// Claims up to `limit` instances of the host that have a task nobody works on.
    func claimWork(host: String, worker: String, limit: Int) async throws -> [Instance]
    /// How many times the instance's current task was claimed.
    func attempts(_ id: String) async throws -> Int
    /// Ends the claimed task with the instance in `state` (a final state frees its addresses);
    /// false when a newer task was queued meanwhile (that one stays, the state is not changed).
    func finishWork(_ instance: Instance, worker: String, state: Instance.State, reason: String?) async throws -> Bool
    /// Moves an instance with no task from `expected` to `state` (what its host saw happen: the
    /// guest shut itself down…); false when it was not in `expected` or has a task.
    func setInstanceState(_ id: String, from expected: Instance.State, to state: Instance.State, reason: String?) async throws -> Bool
    /// Gives a claimed task back to be tried again.
    func unclaim(_ instance: Instance, worker: String) async throws
    /// Instances waiting on a host whose worker has been silent for `seconds`: launches become
    /// `error`, terminations `terminated`, their addresses freed. Answers their ids.
    func failInstancesOfSilentHosts(silentFor seconds: Double) async throws -> [String]
    /// Waits until work may have been queued (another request, another process), at most `timeout`.
    func waitForWork(since generation: Int, timeout: Double) async
    var workGeneration: Int { get }

    func associateAddress(project: String, ip: String, instanceID: String) async throws
    func disassociateAddress(project: String, ip: String) async throws
    /// Floating → fixed address of every associated live instance.
    func floatingAssociations() async throws -> [(publicIP: String, fixedIP: String)]
    /// DHCP leases as the network worker read them (expiry in microseconds).
    func recordLeases(_ leases: [(ip: String, expires: Int64)]) async throws
    func fixedIPStandings() async throws -> [(ip: String, instanceID: String?, leasedUntil: Int64)]
}
