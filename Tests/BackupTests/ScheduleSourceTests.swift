import Foundation
import Testing
@testable import Backup

/// What a scheduled run needs from its profile: the source as the same directory however it
/// was typed, and the passphrase and credentials from the runner's environment.
@Suite struct ScheduleSourceTests {
    let t0: Int64 = 1_800_000_000

    @Test func aRelativeSourceAndItsAbsoluteFormAreTheSameDirectory() throws {
        let f = try ScheduleFixture()
        try FileManager.default.createDirectory(atPath: "\(f.root)/docs", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(f.root)/link", withDestinationPath: "\(f.root)/docs")
        #expect(BackupSchedule.absolutePath("docs", cwd: f.root) == "\(f.root)/docs")
        #expect(BackupSchedule.absolutePath("./docs/", cwd: f.root) == "\(f.root)/docs")
        #expect(BackupSchedule.absolutePath("../x/./docs", cwd: "/a/b") == "/a/x/docs")
        let source = "\(f.root)/docs"
        for recorded in ["docs", "./docs", "docs/", "\(f.root)/docs", "\(f.root)/link", "link", "\(f.root)/nimbus/../docs"] {
            #expect(BackupSchedule.sameDirectory(recorded, source, relativeTo: [f.root]), "\(recorded)")
        }
        #expect(!BackupSchedule.sameDirectory("nimbus", source, relativeTo: [f.root]))
        #expect(!BackupSchedule.sameDirectory("docs", source, relativeTo: ["/elsewhere"]))
    }

    @Test func aScheduledRunContinuesAChainStartedByHandWithTheSourceTypedRelative() async throws {
        let f = try ScheduleFixture()
        try FileManager.default.createDirectory(atPath: "\(f.root)/docs", withIntermediateDirectories: true)
        try "v1".write(toFile: "\(f.root)/docs/a", atomically: true, encoding: .utf8)
        let target = "file://\(f.root)/t"
        // By hand, in f.root: `nimbus backup docs file://…` records `Localdir docs`.
        var o = BackupWriter.Options()
        o.localdir = "docs"
        o.cacheDirectory = Backends.cacheDirectory(url: target, archiveDir: "\(f.root)/cache-hand", name: nil)
        _ = try await BackupWriter(source: "\(f.root)/docs", backend: try Backends.open(target), options: o, now: t0).full()

        // `schedule add laptop docs file://…` in the same directory stores the absolute path.
        let job = BackupSchedule.Job(name: "laptop", source: BackupSchedule.absolutePath("docs", cwd: f.root), target: target, every: "1D",
                                     encrypt: false, workingDirectory: f.root)
        #expect(job.source == "\(f.root)/docs")
        try "v2".write(toFile: "\(f.root)/docs/a", atomically: true, encoding: .utf8)
        // Another archive cache: the recorded source comes from the target's manifest.
        _ = try await BackupSchedule.run(job, now: t0 + 3600, cacheRoot: "\(f.root)/cache-sched", gpg: nil)
        _ = try await BackupSchedule.run(job, now: t0 + 7200, cacheRoot: "\(f.root)/cache-sched", gpg: nil)
        let chains = BackupCollection(names: try FileManager.default.contentsOfDirectory(atPath: "\(f.root)/t")).chains
        #expect(chains.count == 1 && chains[0].sets.count == 3)
        let manifest = try #require(chains[0].sets.last?.manifest)
        let text = try String(contentsOfFile: "\(f.root)/t/\(manifest)", encoding: .utf8)
        #expect(try Manifest(parsing: text).localdir == "docs")  // the chain keeps the name it was started with

        // Another directory is refused, unless the job allows the mismatch (duplicity's flag).
        try FileManager.default.createDirectory(atPath: "\(f.root)/other", withIntermediateDirectories: true)
        var other = job
        other.source = "\(f.root)/other"
        await #expect(throws: BackupError.self) {
            _ = try await BackupSchedule.run(other, now: t0 + 9000, cacheRoot: "\(f.root)/cache-sched", gpg: nil)
        }
        other.allowSourceMismatch = true
        _ = try await BackupSchedule.run(other, now: t0 + 9000, cacheRoot: "\(f.root)/cache-sched", gpg: nil)
    }

    @Test func thePassphraseFileIsReadAtRunTimeWithoutItsTrailingNewline() throws {
        let f = try ScheduleFixture()
        let file = "\(f.root)/pw"
        var job = f.job(encryption: .passphraseFile(file))
        #expect(throws: BackupError.self) { try BackupSchedule.gpg(for: job, environment: [:]) }
        do {
            _ = try BackupSchedule.gpg(for: job, environment: [:])
        } catch {
            #expect("\(error)" == "job laptop: the passphrase file \(file) is not readable")
        }
        for (content, passphrase) in [("s3cret\n", "s3cret"), ("s3cret\r\n", "s3cret"), ("two\n\n", "two\n"), ("bare", "bare")] {
            try content.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try BackupSchedule.gpg(for: job, environment: ["PASSPHRASE": "not this"])?.passphrase == passphrase)
        }
        try "\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: BackupError.self) { try BackupSchedule.gpg(for: job, environment: [:]) }
        job.encryption = .unencrypted
        #expect(try BackupSchedule.gpg(for: job, environment: [:]) == nil)
    }

    @Test func aMissingPassphraseOrCredentialIsNamedInOneLine() throws {
        let f = try ScheduleFixture()
        func message(_ body: () throws -> Void) -> String? {
            do { try body() } catch { return "\(error)" }
            return nil
        }
        var job = f.job(encryption: .passphraseEnv("PASSPHRASE"))
        #expect(message { _ = try BackupSchedule.gpg(for: job, environment: ["PASSPHRASE": ""]) }
                == "job laptop: PASSPHRASE is not set in the environment of `schedule run`")
        job.encryption = .passphraseEnv("LAPTOP_PW")
        #expect(message { _ = try BackupSchedule.gpg(for: job, environment: ["PASSPHRASE": "x"]) }
                == "job laptop: LAPTOP_PW is not set in the environment of `schedule run`")
        #expect(try BackupSchedule.gpg(for: job, environment: ["LAPTOP_PW": "pw"])?.passphrase == "pw")
        job.target = "swift://backups/laptop"
        #expect(message { try BackupSchedule.checkCredentials(of: job, environment: ["SWIFT_AUTHURL": "http://a", "SWIFT_USERNAME": "u"]) }
                == "job laptop: SWIFT_PASSWORD is not set in the environment of `schedule run`")
        #expect(message { try BackupSchedule.checkCredentials(of: job, environment: ["SWIFT_AUTHURL": "a", "SWIFT_USERNAME": "u", "SWIFT_PASSWORD": "p"]) } == nil)
        job.target = "file:///b"
        #expect(message { try BackupSchedule.checkCredentials(of: job, environment: [:]) } == nil)
    }
}
