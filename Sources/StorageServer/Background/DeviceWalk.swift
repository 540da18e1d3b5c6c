import Foundation

/// Walks a device's `<root>/<partition>/<suffix>/<hash>` tree (objects, containers, accounts)
/// for the background passes: every listing runs on the device's pool, never on a shared
/// thread, and only one directory's entries are held at a time — memory is bounded by a
/// suffix directory, not by the size of the device.
struct DeviceWalk: Sendable {
    let pools: DevicePools
    let device: String

    /// Calls `visit` with each hash directory (`partition`, path); `visit` answers false to stop.
    /// Runs in the caller's isolation (the pass's actor), so `visit` may use its state.
    func hashDirectories(under root: String, isolation: isolated (any Actor)? = #isolation,
                         _ visit: (_ partition: Int, _ path: String) async -> Bool) async {
        for part in await list(root) {
            guard let partition = Int(part) else { continue }
            for suffix in await list("\(root)/\(part)") {
                for hash in await list("\(root)/\(part)/\(suffix)") {
                    if Task.isCancelled { return }
                    if !(await visit(partition, "\(root)/\(part)/\(suffix)/\(hash)")) { return }
                }
            }
        }
    }

    /// Calls `visit` with each database file (`<hash>/<hash>.db`) below `root`.
    func databases(under root: String, isolation: isolated (any Actor)? = #isolation,
                   _ visit: (_ partition: Int, _ db: String) async -> Bool) async {
        await hashDirectories(under: root, isolation: isolation) { partition, dir in
            let db = "\(dir)/\((dir as NSString).lastPathComponent).db"
            guard await exists(db) else { return true }
            return await visit(partition, db)
        }
    }

    /// The names in a directory (none when it is missing or unreadable).
    func list(_ dir: String) async -> [String] {
        (try? await pools.run(device) { try FileManager.default.contentsOfDirectory(atPath: dir) }) ?? []
    }

    func exists(_ path: String) async -> Bool {
        (try? await pools.run(device) { FileManager.default.fileExists(atPath: path) }) ?? false
    }
}
