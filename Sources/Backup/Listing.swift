import Foundation

/// `list-current-files`: the paths of a chain at a time, from signature tars only.
public enum Listing {
    public static func current(backend: any BackupBackend, time: Int64, gpg: GPG? = nil) async throws -> [(String, Int64)] {
        let collection = BackupCollection(names: try await backend.list())
        guard var chain = collection.chain(for: time) else { throw BackupError("no backup chain found") }
        chain.incrementals = chain.incrementals.filter { $0.time <= time }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-list-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let state = try await SignatureState.load(chain: chain, backend: backend, work: work, gpg: gpg)
        return state.paths.map { ($0, Int64(state.entries[$0]!.mtime)) }
    }
}
