import Foundation

/// Where backup files live: a directory (`file://`) or an object store container.
public protocol BackupBackend: Sendable {
    /// Names of every file on the target.
    func list() async throws -> [String]
    /// Copies `name` to the local file `path`.
    func get(_ name: String, to path: String) async throws
    /// Stores the local file `path` as `name`.
    func put(_ path: String, as name: String) async throws
    func delete(_ name: String) async throws
    /// A local file holding `name`: the stored file itself when the target is a directory,
    /// else a download to `path`.
    func localFile(_ name: String, downloadingTo path: String) async throws -> String
    /// Stores the local file `path` as `name`; `path` may be gone afterwards.
    func move(_ path: String, as name: String) async throws
}

extension BackupBackend {
    public func localFile(_ name: String, downloadingTo path: String) async throws -> String {
        try await get(name, to: path)
        return path
    }

    public func move(_ path: String, as name: String) async throws {
        try await put(path, as: name)
        unlink(path)
    }
}

/// `file:///abs/dir` or `file://relative/dir`.
public struct FileBackend: BackupBackend {
    public let directory: String

    public init(url: String) throws {
        guard url.hasPrefix("file://") else { throw BackupError("not a file:// URL: \(url)") }
        directory = String(url.dropFirst("file://".count))
    }

    public func list() async throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory)
    }

    public func get(_ name: String, to path: String) async throws {
        let source = "\(directory)/\(name)"
        guard FileManager.default.fileExists(atPath: source) else { throw BackupError("missing volume or file \(name) on the target") }
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: source, toPath: path)
    }

    public func localFile(_ name: String, downloadingTo path: String) async throws -> String {
        let stored = "\(directory)/\(name)"
        guard access(stored, R_OK) == 0 else { throw BackupError("missing volume or file \(name) on the target") }
        return stored
    }

    public func move(_ path: String, as name: String) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Same file system: a rename, no second copy of the volume.
        if rename(path, "\(directory)/\(name)") == 0 { return }
        try await put(path, as: name)
        unlink(path)
    }

    public func put(_ path: String, as name: String) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tmp = "\(directory)/.\(name).\(UInt32.random(in: 0...UInt32.max)).tmp"
        try FileManager.default.copyItem(atPath: path, toPath: tmp)
        guard rename(tmp, "\(directory)/\(name)") == 0 else { throw BackupError("cannot store \(name) in \(directory)") }
    }

    public func delete(_ name: String) async throws {
        try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
    }
}
