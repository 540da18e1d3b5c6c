/// Where a control-plane store is: its database (a SQLite file path, or a `postgres://` URL)
/// and its sealing key file (shared by every host of the control plane).
public struct ControlPlaneLocation: Sendable, Codable, Equatable {
    public var database: String
    public var keyFile: String

    public init(database: String, keyFile: String) {
        self.database = database
        self.keyFile = keyFile
    }
}
