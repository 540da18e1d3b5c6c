import Foundation
import Testing
@testable import Backup
import NimbusCore

/// Our full and incremental sets restore exactly (with our restorer; duplicity interop is in
/// scripts/test-backup).
@Suite struct BackupRoundTripTests {
    func genTree(_ args: String...) async throws -> String {
        let r = try await ChildProcess.runAwaiting("/usr/bin/python3", ["\(RestoreTests.vectors)/gen_tree.py"] + args)
        guard r.succeeded else { throw BackupError("gen_tree.py \(args) failed: \(r.errorText)") }
        return String(decoding: r.stdout, as: UTF8.self)
    }

    @Test func fullAndTwoIncrementalsRestoreEachStage() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("rt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let src = "\(root)/src", target = "file://\(root)/target"
        _ = try await genTree("build", "a", "0", src)
        var listings: [String] = []
        var options = BackupWriter.Options()
        options.volumeSize = 1024 * 1024
        options.cacheDirectory = "\(root)/cache"
        let t0: Int64 = 1_800_000_000
        for stage in 0..<3 {
            if stage > 0 { _ = try await genTree("apply", "a", String(stage), src) }
            listings.append(try await genTree("list", src))
            let writer = try BackupWriter(source: src, backend: try FileBackend(url: target), options: options, now: t0 + Int64(stage) * 3)
            let stats = try await (stage == 0 ? writer.full() : writer.incremental())
            #expect(stats.volumes >= 1)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(root)/target")
        let chain = BackupCollection(names: names).chains
        #expect(chain.count == 1 && chain[0].sets.count == 3)
        #expect(chain[0].full.volumes.count == 2, "the 1.6 MB file spans two 1 MiB volumes")
        for stage in 0..<3 {
            let dest = "\(root)/restore-\(stage)"
            var ro = Restorer.Options()
            ro.time = t0 + Int64(stage) * 3
            _ = try await Restorer(backend: try FileBackend(url: target), target: dest, options: ro).run()
            #expect(try await genTree("list", dest) == listings[stage], "stage \(stage)")
        }
        // The first incremental stored a delta, not the whole file, for the changed big file.
        let firstInc = names.filter { $0.hasPrefix("duplicity-inc.") && $0.hasSuffix(".manifest") }.sorted()[0]
        let manifest = try Manifest(parsing: String(contentsOfFile: "\(root)/target/\(firstInc)", encoding: .utf8))
        #expect(manifest.files?.contains { $0.0 == "changed" && $0.1 == "data/big.bin" } == true)
        let incVolume = firstInc.replacingOccurrences(of: ".manifest", with: ".vol1.difftar.gz")
        let size = try FileManager.default.attributesOfItem(atPath: "\(root)/target/\(incVolume)")[.size] as! Int
        #expect(size < 100_000, "the incremental volume holds deltas (\(size) bytes)")
    }
}

@Suite struct MaintenanceTests {
    @Test func pruningKeepsTheNewestChainAndCleanupRemovesStrayFiles() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/src", withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: "\(root)/src/a.txt"))
        let backend = try FileBackend(url: "file://\(root)/t")
        let t0: Int64 = 1_800_000_000
        _ = try await BackupWriter(source: "\(root)/src", backend: backend, options: .init(), now: t0).full()
        _ = try await BackupWriter(source: "\(root)/src", backend: backend, options: .init(), now: t0 + 100).full()
        // A volume of a run that never finished.
        try Data([1]).write(to: URL(fileURLWithPath: "\(root)/t/duplicity-full.20300101T000000Z.vol1.difftar.gz"))
        try Data([1]).write(to: URL(fileURLWithPath: "\(root)/t/not-ours.txt"))
        #expect(try await Maintenance.cleanup(backend: backend, force: true) == ["duplicity-full.20300101T000000Z.vol1.difftar.gz"])
        let dry = try await Maintenance.removeOlderThan(t0 + 50, backend: backend, force: false)
        let listed = try await backend.list()
        #expect(dry.count == 3 && BackupCollection(names: listed).chains.count == 2)
        #expect(try await Maintenance.removeAllButNFull(1, backend: backend, force: true).count == 3)
        let left = BackupCollection(names: try await backend.list())
        #expect(left.chains.count == 1 && left.chains[0].start == t0 + 100)
        #expect(FileManager.default.fileExists(atPath: "\(root)/t/not-ours.txt"))
    }
}

/// A target that stops accepting files after a number of volumes, like a network that drops.
final class FlakyBackend: BackupBackend, @unchecked Sendable {
    // @unchecked: the tests drive it from one task at a time.
    let inner: FileBackend
    var volumesLeft: Int
    var stored: [String] = []
    /// What the target answers once `volumes` volumes are stored.
    let failure: any Error

    init(_ inner: FileBackend, volumes: Int, failure: any Error = BackupError("network dropped")) {
        self.inner = inner
        volumesLeft = volumes
        self.failure = failure
    }

    func list() async throws -> [String] { try await inner.list() }
    func get(_ name: String, to path: String) async throws { try await inner.get(name, to: path) }
    func delete(_ name: String) async throws { try await inner.delete(name) }
    func put(_ path: String, as name: String) async throws {
        if name.contains(".difftar") {
            if volumesLeft == 0 { throw failure }
            volumesLeft -= 1
        }
        stored.append(name)
        try await inner.put(path, as: name)
    }
}

@Suite struct ResumeTests {
    @Test func interruptedFullBackupResumesAfterTheLastStoredVolume() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/src/sub", withIntermediateDirectories: true)
        var seed: UInt64 = 7
        func noise(_ n: Int) -> Data {
            Data((0..<n).map { _ in seed = seed &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: seed >> 33) })
        }
        try noise(2_500_000).write(to: URL(fileURLWithPath: "\(root)/src/big.bin"))
        for i in 0..<5 { try noise(300_000).write(to: URL(fileURLWithPath: "\(root)/src/sub/f\(i)")) }
        var options = BackupWriter.Options()
        options.volumeSize = 1024 * 1024
        options.cacheDirectory = "\(root)/cache"
        let target = try FileBackend(url: "file://\(root)/t")
        let flaky = FlakyBackend(target, volumes: 2)
        await #expect(throws: BackupError.self) { _ = try await BackupWriter(source: "\(root)/src", backend: flaky, options: options, now: 1_800_000_000).full() }
        #expect(BackupCollection(names: try await target.list()).chains.isEmpty, "no manifest for an unfinished set")
        let again = FlakyBackend(target, volumes: 100)
        let stats = try await BackupWriter(source: "\(root)/src", backend: again, options: options, now: 1_800_000_500).full()
        let rerunVolumes = again.stored.filter { $0.contains(".difftar") }
        #expect(rerunVolumes.count == stats.volumes - 2, "only the volumes after the two stored ones: \(rerunVolumes)")
        #expect(!rerunVolumes.contains { $0.contains(".vol1.") || $0.contains(".vol2.") })
        #expect(stats.volumes >= 4)
        let dest = "\(root)/restored"
        _ = try await Restorer(backend: target, target: dest, options: .init()).run()
        for name in ["big.bin", "sub/f0", "sub/f4"] {
            #expect(FileManager.default.contents(atPath: "\(dest)/\(name)") == FileManager.default.contents(atPath: "\(root)/src/\(name)"), "\(name)")
        }
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: "\(root)/cache")).contains { $0.hasSuffix(".part") })
    }

    @Test func interruptedIncrementalResumesToo() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("resume-inc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/src", withIntermediateDirectories: true)
        try Data("base".utf8).write(to: URL(fileURLWithPath: "\(root)/src/base.txt"))
        var options = BackupWriter.Options()
        options.volumeSize = 1024 * 1024
        options.cacheDirectory = "\(root)/cache"
        let target = try FileBackend(url: "file://\(root)/t")
        _ = try await BackupWriter(source: "\(root)/src", backend: target, options: options, now: 1_800_000_000).full()
        for i in 0..<4 {
            try Data((0..<700_000).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: "\(root)/src/new\(i).bin"))
        }
        let flaky = FlakyBackend(target, volumes: 1)
        await #expect(throws: BackupError.self) {
            _ = try await BackupWriter(source: "\(root)/src", backend: flaky, options: options, now: 1_800_000_100).incremental()
        }
        #expect(BackupCollection(names: try await target.list()).chains[0].sets.count == 1, "no manifest for the cut incremental")
        let again = FlakyBackend(target, volumes: 100)
        let stats = try await BackupWriter(source: "\(root)/src", backend: again, options: options, now: 1_800_000_200).incremental()
        let rerunVolumes = again.stored.filter { $0.contains(".difftar") }
        #expect(!rerunVolumes.contains { $0.contains(".vol1.") }, "volume 1 was kept: \(rerunVolumes)")
        #expect(rerunVolumes.count == stats.volumes - 1)
        #expect(rerunVolumes.allSatisfy { $0.contains("T080140Z") }, "the same set time as the cut run: \(rerunVolumes)")
        let dest = "\(root)/restored"
        _ = try await Restorer(backend: target, target: dest, options: .init()).run()
        for i in 0..<4 {
            #expect(FileManager.default.contents(atPath: "\(dest)/new\(i).bin") == FileManager.default.contents(atPath: "\(root)/src/new\(i).bin"))
        }
    }
}
