/// A registered image: where its bundle came from, who owns it, its state, and who may launch it.
public struct ImageRecord: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable { case pending, available, failed }

    /// `ami-…`, `aki-…` or `ari-…`.
    public var id: String
    /// The owning project.
    public var project: String
    /// `bucket/prefix.manifest.xml`.
    public var location: String
    public var name: String
    public var description: String
    /// `machine`, `kernel` or `ramdisk`.
    public var imageType: String
    public var architecture: String
    public var kernelID: String?
    public var ramdiskID: String?
    public var state: State
    /// Why a `failed` image failed, in words a user understands.
    public var stateReason: String?
    /// Launchable by every project.
    public var isPublic: Bool
    /// Other projects allowed to launch it.
    public var launchProjects: [String]
    /// Bytes of the image once available.
    public var size: Int64
    public var createdAt: Int64

    public init(id: String, project: String, location: String, name: String, description: String = "", imageType: String,
                architecture: String, kernelID: String? = nil, ramdiskID: String? = nil, state: State = .pending,
                stateReason: String? = nil, isPublic: Bool = false, launchProjects: [String] = [], size: Int64 = 0, createdAt: Int64 = 0) {
        self.id = id
        self.project = project
        self.location = location
        self.name = name
        self.description = description
        self.imageType = imageType
        self.architecture = architecture
        self.kernelID = kernelID
        self.ramdiskID = ramdiskID
        self.state = state
        self.stateReason = stateReason
        self.isPublic = isPublic
        self.launchProjects = launchProjects
        self.size = size
        self.createdAt = createdAt
    }

    /// Whether `project` may see and launch it.
    public func isLaunchable(by project: String) -> Bool {
        project == self.project || isPublic || launchProjects.contains(project)
    }
}
