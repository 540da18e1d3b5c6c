import Foundation
import Tar

/// `verify`: restores a chain (every needed volume fetched and SHA1-checked, every delta
/// applied) into a scratch directory and compares it with the local tree: type, mode,
/// mtime, symlink target, missing and extra paths, and with `compareData` the content.
public struct Verifier {
    public struct Result: Sendable {
        public var compared = 0
        public var differences: [String] = []
    }

    let backend: any BackupBackend
    let local: String
    var restoreOptions: Restorer.Options
    let compareData: Bool
    let selection: Selection?

    public init(backend: any BackupBackend, local: String, restoreOptions: Restorer.Options, compareData: Bool, selection: Selection?) {
        self.backend = backend
        self.local = local
        self.restoreOptions = restoreOptions
        self.compareData = compareData
        self.selection = selection
    }

    public func run() async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-verify-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        _ = try await Restorer(backend: backend, target: scratch, options: restoreOptions).run()
        var restored: [SourceEntry] = []
        try SourceTree.walk(scratch) { restored.append($0) }
        var current: [String: SourceEntry] = [:]
        var order: [String] = []
        try SourceTree.walk(local, selection: selection) {
            current[$0.path] = $0
            order.append($0.path)
        }
        var result = Result()
        var seen = Set<String>()
        for backup in restored {
            result.compared += 1
            seen.insert(backup.path)
            let name = backup.path.isEmpty ? "." : backup.path
            guard let here = current[backup.path] else {
                result.differences.append("\(name): in the backup, missing locally")
                continue
            }
            if let difference = try compare(backup, here, scratch: scratch) { result.differences.append("\(name): \(difference)") }
        }
        for path in order where !seen.contains(path) {
            result.differences.append("\(path): new locally, not in the backup")
        }
        return result
    }

    private func compare(_ backup: SourceEntry, _ here: SourceEntry, scratch: String) throws -> String? {
        if backup.type != here.type { return "type differs" }
        if backup.type == .symlink {
            return backup.linkTarget == here.linkTarget ? nil : "symlink target differs"
        }
        if backup.mode != here.mode { return String(format: "permissions differ (%o in the backup, %o locally)", backup.mode, here.mode) }
        if geteuid() == 0 && (backup.uid != here.uid || backup.gid != here.gid) { return "owner differs" }
        if backup.type == .directory { return nil }
        if backup.mtime != here.mtime { return "modification time differs" }
        if backup.type == .regular {
            if backup.size != here.size { return "size differs (\(backup.size) in the backup, \(here.size) locally)" }
            if compareData {
                let a = backup.path.isEmpty ? scratch : "\(scratch)/\(backup.path)"
                let b = here.path.isEmpty ? local : "\(local)/\(here.path)"
                if try !Self.sameContent(a, b) { return "data differs" }
            }
        }
        return nil
    }

    static func sameContent(_ a: String, _ b: String) throws -> Bool {
        guard let fa = FileHandle(forReadingAtPath: a) else { throw BackupError("cannot read \(a)") }
        guard let fb = FileHandle(forReadingAtPath: b) else { throw BackupError("cannot read \(b)") }
        defer {
            try? fa.close()
            try? fb.close()
        }
        while true {
            let x = try fa.read(upToCount: 1 << 20) ?? Data()
            let y = try fb.read(upToCount: 1 << 20) ?? Data()
            if x != y { return false }
            if x.isEmpty { return true }
        }
    }
}
