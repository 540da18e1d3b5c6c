/// Where a control-plane store is: its database and its sealing key file (SQLite engine).
public struct ControlPlaneLocation: Sendable, Codable, Equatable {
    public var database: String
    public var keyFile: String

    public init(database: String, keyFile: String) {
        self.database = database
        self.keyFile = keyFile
    }
}
