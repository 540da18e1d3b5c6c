/// A public (floating) IP address allocated to a project, and the instance it points at.
public struct FloatingAddress: Sendable, Equatable, Codable {
    public var ip: String
    public var project: String
    public var instanceID: String?

    public init(ip: String, project: String, instanceID: String? = nil) {
        self.ip = ip
        self.project = project
        self.instanceID = instanceID
    }
}
