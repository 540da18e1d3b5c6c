import Foundation
import Testing
@testable import Backup
import NimbusCore
import NimbusClient

/// The writer's behaviour around a run: statistics, selection, the source check, the cache
/// kept in line with the target, verify, and public-key encryption.
@Suite struct BackupFeatureTests {
    final class Dir {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bf-\(UUID().uuidString)").path
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func write(_ rel: String, _ text: String, mtime: Int? = nil) throws {
            let full = "\(path)/\(rel)"
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: false, encoding: .utf8)
            if let mtime {
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(mtime))], ofItemAtPath: full)
            }
        }
    }

    func options(_ dir: Dir) -> BackupWriter.Options {
        var o = BackupWriter.Options()
        o.cacheDirectory = "\(dir.path)/cache"
        return o
    }

    @Test func statisticsCountNewChangedAndDeletedFiles() async throws {
        let d = try Dir()
        try d.write("src/a", "one", mtime: 1_000)
        try d.write("src/b", "two", mtime: 1_000)
        try d.write("src/c", "three", mtime: 1_000)
        let target = try FileBackend(url: "file://\(d.path)/t")
        let first = try await BackupWriter(source: "\(d.path)/src", backend: target, options: options(d), now: 1_800_000_000).full()
        #expect(first.newFiles == 4 && first.sourceFiles == 4 && first.changedFiles == 0 && first.errors == 0)
        #expect(first.newFileSize == 11 && first.rawDeltaSize == 11)
        try d.write("src/b", "two, longer now", mtime: 2_000)
        try FileManager.default.removeItem(atPath: "\(d.path)/src/c")
        try d.write("src/d", "new", mtime: 2_000)
        let second = try await BackupWriter(source: "\(d.path)/src", backend: target, options: options(d), now: 1_800_000_010).incremental()
        #expect(second.newFiles == 1, "\(second.text)")
        // b, and the root directory when its mtime moved to another second.
        #expect(second.changedFiles >= 1 && second.changedFileSize >= 15, "\(second.text)")
        #expect(second.deletedFiles == 1)
        #expect(second.totalDestinationSizeChange > 0)
        #expect(second.text.contains("DeletedFiles 1\n"))
    }

    @Test func excludedFilesAreLeftOutAndLaterExclusionsBecomeDeletions() async throws {
        let d = try Dir()
        try d.write("src/keep.txt", "k")
        try d.write("src/skip.tmp", "s")
        let src = "\(d.path)/src", target = try FileBackend(url: "file://\(d.path)/t")
        let full = try await BackupWriter(source: src, backend: target, options: options(d), now: 1_800_000_000).full()
        #expect(full.newFiles == 3)
        var o = options(d)
        o.selection = try Selection([.exclude("**/*.tmp")], source: src)
        let inc = try await BackupWriter(source: src, backend: target, options: o, now: 1_800_000_010).incremental()
        #expect(inc.deletedFiles == 1)
        let files = try await Listing.current(backend: target, time: Int64.max, gpg: nil).map(\.0)
        #expect(files == ["", "keep.txt"])
    }

    @Test func anIncrementalFromAnotherSourceDirectoryIsRefusedUnlessAllowed() async throws {
        let d = try Dir()
        try d.write("one/f", "x", mtime: 1_000)
        try d.write("two/f", "y", mtime: 2_000)
        let target = try FileBackend(url: "file://\(d.path)/t")
        _ = try await BackupWriter(source: "\(d.path)/one", backend: target, options: options(d), now: 1_800_000_000).full()
        await #expect(throws: BackupError.self) {
            _ = try await BackupWriter(source: "\(d.path)/two", backend: target, options: options(d), now: 1_800_000_010).incremental()
        }
        var o = options(d)
        o.allowSourceMismatch = true
        let stats = try await BackupWriter(source: "\(d.path)/two", backend: target, options: o, now: 1_800_000_020).incremental()
        #expect(stats.changedFiles >= 1)
    }

    @Test func cacheFollowsTheTargetAndMovesStrayFilesAside() async throws {
        let d = try Dir()
        try d.write("src/f", "x")
        let target = try FileBackend(url: "file://\(d.path)/t")
        _ = try await BackupWriter(source: "\(d.path)/src", backend: target, options: options(d), now: 1_800_000_000).full()
        let cache = "\(d.path)/cache"
        let sig = "duplicity-full-signatures.20270115T080000Z.sigtar.gz"
        #expect(FileManager.default.fileExists(atPath: "\(cache)/\(sig)"))
        try FileManager.default.removeItem(atPath: "\(cache)/\(sig)")
        try "stray".write(toFile: "\(cache)/duplicity-full.20200101T000000Z.manifest", atomically: true, encoding: .utf8)
        let report = try await ArchiveCache(directory: cache).sync(with: target, gpg: nil, work: d.path)
        #expect(report.fetched == [sig])
        #expect(report.orphaned == ["duplicity-full.20200101T000000Z.manifest"])
        #expect(FileManager.default.fileExists(atPath: "\(cache)/orphaned/duplicity-full.20200101T000000Z.manifest"))
        #expect(FileManager.default.fileExists(atPath: "\(cache)/\(sig)"))
    }

    @Test func aSecondRunOnTheSameCacheIsRefusedWhileTheFirstHoldsTheLock() throws {
        let d = try Dir()
        let first = try ArchiveCache(directory: "\(d.path)/cache")
        try first.lock()
        let second = try ArchiveCache(directory: "\(d.path)/cache")
        #expect(throws: BackupError.self) { try second.lock() }
        first.unlock()
        try second.lock()
    }

    /// The lock is the POSIX record lock duplicity's own takes (fasteners' `lockf`): another
    /// process's `lockf` is refused while we hold it, and gets it once we let go.
    @Test func anotherProcessSeesTheLockAsDuplicityWould() async throws {
        let d = try Dir()
        let cache = try ArchiveCache(directory: "\(d.path)/cache")
        try cache.lock()
        let probe = "import fcntl, sys\nf = open(sys.argv[1], 'r+')\ntry:\n    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print('got')\nexcept OSError:\n    print('busy')"
        let held = try await ChildProcess.runAwaiting("/usr/bin/python3", ["-c", probe, "\(d.path)/cache/lockfile"])
        #expect(String(decoding: held.stdout, as: UTF8.self).contains("busy"))
        cache.unlock()
        let free = try await ChildProcess.runAwaiting("/usr/bin/python3", ["-c", probe, "\(d.path)/cache/lockfile"])
        #expect(String(decoding: free.stdout, as: UTF8.self).contains("got"))
    }

    @Test func verifyFindsChangedDataOnlyWhenAskedToCompareIt() async throws {
        let d = try Dir()
        try d.write("src/f", "abc", mtime: 1_000)
        try d.write("src/g", "ghi", mtime: 1_000)
        let target = try FileBackend(url: "file://\(d.path)/t")
        _ = try await BackupWriter(source: "\(d.path)/src", backend: target, options: options(d), now: 1_800_000_000).full()
        let clean = try await Verifier(backend: target, local: "\(d.path)/src", restoreOptions: .init(), compareData: true, selection: nil).run()
        #expect(clean.compared == 3 && clean.differences.isEmpty)
        try d.write("src/f", "xyz", mtime: 1_000)  // same size and time, other bytes
        try d.write("src/new", "n")
        let meta = try await Verifier(backend: target, local: "\(d.path)/src", restoreOptions: .init(), compareData: false, selection: nil).run()
        #expect(meta.differences == ["new: new locally, not in the backup"])
        let data = try await Verifier(backend: target, local: "\(d.path)/src", restoreOptions: .init(), compareData: true, selection: nil).run()
        #expect(data.differences.contains("f: data differs"))
    }

    /// A keyring in `d` with one secret key (no passphrase), `nimbus-test@example.org`.
    func makeKey(in d: Dir) async throws -> String {
        let home = "\(d.path)/gnupg"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let gen = try await ChildProcess.runAwaiting(
            "/usr/bin/gpg", ["--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key", "nimbus-test@example.org", "default", "default", "never"])
        guard gen.succeeded else { throw BackupError("gpg --quick-gen-key failed: \(gen.errorText)") }
        return home
    }

    @Test func restoresWithASignKeyAcceptOnlyFilesSignedByIt() async throws {
        let d = try Dir()
        let home = try await makeKey(in: d)
        try d.write("src/f", "signed")
        let key = "nimbus-test@example.org"
        for (name, signer) in [("signed", Optional(key)), ("unsigned", nil)] {
            var o = options(d)
            o.cacheDirectory = "\(d.path)/cache-\(name)"
            o.gpg = GPG(passphrase: "", recipients: [key], signKey: signer, homedir: home)
            _ = try await BackupWriter(source: "\(d.path)/src", backend: try FileBackend(url: "file://\(d.path)/\(name)"), options: o,
                                       now: 1_800_000_000).full()
        }
        var r = Restorer.Options()
        r.gpg = GPG(passphrase: "", recipients: [], signKey: key, homedir: home)
        _ = try await Restorer(backend: try FileBackend(url: "file://\(d.path)/signed"), target: "\(d.path)/out", options: r).run()
        #expect(try String(contentsOfFile: "\(d.path)/out/f", encoding: .utf8) == "signed")
        await #expect(throws: BackupError.self) {
            _ = try await Restorer(backend: try FileBackend(url: "file://\(d.path)/unsigned"), target: "\(d.path)/out2", options: r).run()
        }
    }

    @Test func publicKeyEncryptedBackupRestoresWithTheSecretKey() async throws {
        let d = try Dir()
        let home = try await makeKey(in: d)
        try d.write("src/secret.txt", "for the key holder only")
        var o = options(d)
        o.gpg = GPG(passphrase: nil, recipients: ["nimbus-test@example.org"], signKey: nil, homedir: home)
        let target = try FileBackend(url: "file://\(d.path)/t")
        _ = try await BackupWriter(source: "\(d.path)/src", backend: target, options: o, now: 1_800_000_000).full()
        let names = try await target.list()
        #expect(names.allSatisfy { $0.hasSuffix(".gpg") })
        var r = Restorer.Options()
        r.gpg = GPG(passphrase: nil, recipients: [], signKey: nil, homedir: home)
        _ = try await Restorer(backend: target, target: "\(d.path)/out", options: r).run()
        #expect(try String(contentsOfFile: "\(d.path)/out/secret.txt", encoding: .utf8) == "for the key holder only")
        // A symmetric passphrase cannot open it.
        var wrong = Restorer.Options()
        wrong.gpg = GPG(passphrase: "guess", recipients: [], signKey: nil, homedir: "\(d.path)/empty-home")
        try FileManager.default.createDirectory(atPath: "\(d.path)/empty-home", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        await #expect(throws: BackupError.self) { _ = try await Restorer(backend: target, target: "\(d.path)/out2", options: wrong).run() }
    }
}

@Suite struct FullTargetTests {
    @Test func aFullTargetStopsTheBackupWithTheReasonAndNoManifest() async throws {
        let d = try BackupFeatureTests.Dir()
        for i in 0..<4 {
            var bytes = [UInt8](repeating: 0, count: 600_000)
            for j in bytes.indices { bytes[j] = UInt8.random(in: 0...255) }
            try FileManager.default.createDirectory(atPath: "\(d.path)/src", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: "\(d.path)/src/f\(i)", contents: Data(bytes))
        }
        var o = BackupWriter.Options()
        o.volumeSize = 1 << 20
        let target = try FileBackend(url: "file://\(d.path)/t")
        do {
            _ = try await BackupWriter(source: "\(d.path)/src", backend: FlakyBackend(target, volumes: 1, failure: ClientError.http(507, "upload of backups/volume")), options: o, now: 1_800_000_000).full()
            Issue.record("the backup should have failed")
        } catch {
            #expect("\(error)".contains("507 Insufficient Storage"))
        }
        let names = try await target.list()
        #expect(names.count == 1 && names[0].contains(".vol1.difftar"), "\(names)")
        #expect(BackupCollection(names: names).chains.isEmpty)
    }
}
