import Foundation
import Testing
@testable import Backup

/// A restore past an unreadable volume (duplicity's `--ignore-errors`), and without it an
/// error naming the volume and the files lost with it; never a partial file left behind.
@Suite struct RestoreIgnoreErrorsTests {
    enum Damage: String, Sendable, CustomStringConvertible {
        /// Bytes overwritten in the middle: the manifest's SHA1 no longer matches.
        case corrupt
        case delete
        /// Overwritten and the manifest's hash updated: the data goes bad while it is read.
        case corruptKeepingHash
        var description: String { rawValue }
    }

    /// A full backup of 24 random 150 kB files (multivol, 3 chunks each) in ~1 MiB volumes.
    final class Fixture {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ignerr-\(UUID().uuidString)").path
        let gpg: GPG?
        var files: [String: Data] = [:]
        var volumes: [String] = []
        var manifestName = ""
        var manifest = Manifest()
        var target: FileBackend { try! FileBackend(url: "file://\(root)/target") }

        init(encrypted: Bool) async throws {
            gpg = encrypted ? GPG(passphrase: "pw") : nil
            for i in 0..<24 {
                var bytes = [UInt8](repeating: 0, count: 150_000)
                for j in bytes.indices { bytes[j] = UInt8.random(in: 0...255) }
                files["d\(i / 8)/f\(String(format: "%02d", i)).bin"] = Data(bytes)
            }
            for i in 0..<5 { files["notes/n\(i).txt"] = Data("note \(i)\n".utf8) }
            for (path, data) in files {
                let full = "\(root)/src/\(path)"
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try data.write(to: URL(fileURLWithPath: full))
            }
            var o = BackupWriter.Options()
            o.volumeSize = 512 * 1024
            o.gpg = gpg
            _ = try await BackupWriter(source: "\(root)/src", backend: target, options: o, now: 1_800_000_000).full()
            let names = try await target.list()
            let set = BackupCollection(names: names).chains[0].full
            volumes = set.volumes.keys.sorted().map { set.volumes[$0]! }
            manifestName = set.manifest!
            var text = "\(root)/target/\(manifestName)"
            if let gpg {
                try await gpg.decrypt(text, to: "\(root)/manifest")
                text = "\(root)/manifest"
            }
            manifest = try Manifest(parsing: String(contentsOfFile: text, encoding: .utf8))
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        /// The files with data in volume `n` (1-based): those in its path range, which takes
        /// in a file spanning into it or out of it.
        func filesOf(volume n: Int) -> [String] {
            let v = manifest.volumes[n - 1]
            return files.keys.filter { p in !SourceTree.precedes(p, v.startPath) && !SourceTree.precedes(v.endPath, p) }
                .sorted(by: SourceTree.precedes)
        }

        func damage(volume n: Int, _ how: Damage) throws {
            let path = "\(root)/target/\(volumes[n - 1])"
            if how == .delete {
                try FileManager.default.removeItem(atPath: path)
                return
            }
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            for i in 0..<64 { bytes[bytes.count / 2 + i] ^= 0x5A }
            try bytes.write(to: URL(fileURLWithPath: path))
            if how == .corruptKeepingHash {
                let old = manifest.volumes[n - 1].hash!.1
                let text = try String(contentsOfFile: "\(root)/target/\(manifestName)", encoding: .utf8)
                try text.replacingOccurrences(of: old, with: try Restorer.sha1(path))
                    .write(toFile: "\(root)/target/\(manifestName)", atomically: true, encoding: .utf8)
            }
        }

        func restore(ignoreErrors: Bool, into dest: String) async throws -> Restorer.Result {
            var o = Restorer.Options()
            o.gpg = gpg
            o.ignoreErrors = ignoreErrors
            return try await Restorer(backend: target, target: dest, options: o).run()
        }

        func restored(_ dest: String, _ path: String) -> Data? {
            FileManager.default.contents(atPath: "\(dest)/\(path)")
        }
    }

    @Test(arguments: [(false, Damage.corrupt), (false, .delete), (false, .corruptKeepingHash), (true, .corrupt), (true, .delete)])
    func aBadMiddleVolumeIsSkippedWithIgnoreErrorsAndItsFilesListed(encrypted: Bool, damage: Damage) async throws {
        let f = try await Fixture(encrypted: encrypted)
        try #require(f.volumes.count >= 3, "volumes: \(f.volumes)")
        let lost = f.filesOf(volume: 2)
        #expect(!lost.isEmpty && lost.count < f.files.count - 5)
        try f.damage(volume: 2, damage)

        let result = try await f.restore(ignoreErrors: true, into: "\(f.root)/out")
        #expect(result.incompleteFiles == lost)
        #expect(result.completedWithErrors && result.unreadableVolumes.count == 1)
        let named = damage == .delete ? "missing volume 2 of set \(f.manifestName)" : f.volumes[1]
        #expect(result.unreadableVolumes.first?.contains(named) == true, "\(result.unreadableVolumes)")
        for (path, data) in f.files {
            if lost.contains(path) {
                #expect(f.restored("\(f.root)/out", path) == nil, "\(path) is incomplete: it must not be there")
            } else {
                #expect(f.restored("\(f.root)/out", path) == data, "\(path) must restore byte for byte")
            }
        }
        #expect(result.files == f.files.count - lost.count)
        #expect(result.volumes == f.volumes.count - 1)
    }

    @Test(arguments: [(false, Damage.corrupt), (false, .delete), (false, .corruptKeepingHash), (true, .corrupt)])
    func withoutIgnoreErrorsTheRestoreStopsNamingTheVolumeAndItsFiles(encrypted: Bool, damage: Damage) async throws {
        let f = try await Fixture(encrypted: encrypted)
        try #require(f.volumes.count >= 3)
        let lost = f.filesOf(volume: 2)
        try f.damage(volume: 2, damage)
        let dest = "\(f.root)/out"
        var message = ""
        do {
            _ = try await f.restore(ignoreErrors: false, into: dest)
            Issue.record("the restore should have failed")
        } catch let error as BackupError {
            message = error.description
        }
        #expect(!message.contains("\n"))
        #expect(message.contains(damage == .delete ? "missing volume 2 of set \(f.manifestName)" : "cannot read \(f.volumes[1])"), "\(message)")
        #expect(message.contains("rerun with --ignore-errors to restore everything else"), "\(message)")
        let shown = lost.prefix(Restorer.namedFiles)
        #expect(shown.allSatisfy { message.contains($0) }, "\(message)")
        if lost.count > Restorer.namedFiles { #expect(message.contains("and \(lost.count - Restorer.namedFiles) more")) }
        // What the first volume held is there, whole; nothing of the lost files is.
        let first = f.filesOf(volume: 1).filter { !lost.contains($0) }
        #expect(!first.isEmpty)
        for path in first { #expect(f.restored(dest, path) == f.files[path], "\(path)") }
        for path in lost { #expect(f.restored(dest, path) == nil, "\(path)") }
        #expect(message.contains("\(first.count) files restored before the error are in \(dest)"), "\(message)")
    }

    @Test func aLostIncrementalVolumeTakesTheOlderVersionAwayUntilALaterSetReplacesIt() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ignerr-inc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let target = try FileBackend(url: "file://\(root)/target")
        func write(_ path: String, _ text: String) throws {
            try FileManager.default.createDirectory(atPath: "\(root)/src", withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(root)/src/\(path)"))
        }
        func backup(_ at: Int64) async throws {
            var o = BackupWriter.Options()
            o.cacheDirectory = "\(root)/cache"
            let w = try BackupWriter(source: "\(root)/src", backend: target, options: o, now: 1_800_000_000 + at)
            _ = try await (at == 0 ? w.full() : w.incremental())
        }
        for name in ["a.txt", "b.txt", "c.txt", "d.txt"] { try write(name, String(repeating: "\(name) v1\n", count: 200)) }
        try await backup(0)
        for name in ["a.txt", "b.txt"] { try write(name, String(repeating: "\(name) v2\n", count: 200)) }
        try FileManager.default.removeItem(atPath: "\(root)/src/d.txt")
        try await backup(10)
        let lostVolume = try await target.list().first { $0.hasPrefix("duplicity-inc.") && $0.contains(".vol1.") }!
        try FileManager.default.removeItem(atPath: "\(root)/src/a.txt")
        try write("b.txt", String(repeating: "b.txt v3\n", count: 200))
        try write("e.txt", "new")
        try await backup(20)
        try FileManager.default.removeItem(atPath: "\(root)/target/\(lostVolume)")

        var o = Restorer.Options()
        o.ignoreErrors = true
        let out = "\(root)/out"
        let result = try await Restorer(backend: target, target: out, options: o).run()
        // b.txt's v2 delta was lost and v3 is a delta on it: no version is trustworthy.
        #expect(result.incompleteFiles == ["b.txt"])
        #expect(result.unreadableVolumes.count == 1)
        #expect(!FileManager.default.fileExists(atPath: "\(out)/b.txt"))
        #expect(!FileManager.default.fileExists(atPath: "\(out)/a.txt"), "deleted by the last set")
        #expect(!FileManager.default.fileExists(atPath: "\(out)/d.txt"), "its deletion was in the lost volume")
        #expect(try String(contentsOfFile: "\(out)/c.txt", encoding: .utf8) == String(repeating: "c.txt v1\n", count: 200))
        #expect(try String(contentsOfFile: "\(out)/e.txt", encoding: .utf8) == "new")
    }
}
