import Foundation

/// Where a cloud's APIs answer (`endpoints.json` in the control directory, written by
/// `nimbus aio`), so `project zipfile` writes credentials that point at them.
public struct CloudEndpoints: Sendable, Codable, Equatable {
    /// The EC2 Query API, e.g. `http://127.0.0.1:8773/`.
    public var ec2URL: String
    /// The object store's tempauth URL, e.g. `http://127.0.0.1:8080/auth/v1.0`.
    public var authURL: String
    public var region: String

    public init(ec2URL: String, authURL: String, region: String) {
        self.ec2URL = ec2URL
        self.authURL = authURL
        self.region = region
    }

    public static let standard = CloudEndpoints(ec2URL: "http://127.0.0.1:8773/", authURL: "http://127.0.0.1:8080/auth/v1.0", region: "nimbus")

    public static func path(directory: String) -> String { (directory as NSString).appendingPathComponent("endpoints.json") }

    /// The recorded endpoints, or the defaults of `nimbus aio` and `nimbus compute api`.
    public static func load(directory: String) -> CloudEndpoints {
        guard let data = FileManager.default.contents(atPath: path(directory: directory)),
              let e = try? JSONDecoder().decode(CloudEndpoints.self, from: data) else { return .standard }
        return e
    }

    /// The recorded endpoints; an error when none are recorded (a host other than the cloud's
    /// must not write credentials that point at itself).
    public static func recorded(directory: String) throws -> CloudEndpoints {
        guard let data = FileManager.default.contents(atPath: path(directory: directory)) else {
            throw ControlPlaneError.invalid("\(path(directory: directory)) is missing: copy endpoints.json from the cloud's control directory")
        }
        do { return try JSONDecoder().decode(CloudEndpoints.self, from: data) } catch {
            throw ControlPlaneError.invalid("\(path(directory: directory)) is not a valid endpoints file")
        }
    }

    public func save(directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicWrite.write(try encoder.encode(self), to: Self.path(directory: directory), mode: 0o644)
    }
}
