import Foundation
import Testing
@testable import Backup
import NimbusCore

/// Restores of the chain duplicity 0.8.22 made (Tests/BackupTests/Vectors, see its README).
@Suite struct RestoreTests {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors").path

    /// `gen_tree.py list DIR`: the canonical listing the expected files hold.
    func listing(_ dir: String) async throws -> String {
        let r = try await ChildProcess.runAwaiting("/usr/bin/python3", ["\(Self.vectors)/gen_tree.py", "list", dir])
        return String(decoding: r.stdout, as: UTF8.self)
    }

    func restore(time: String?, file: String? = nil) async throws -> String {
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("restore-\(UUID().uuidString)").path
        var options = Restorer.Options()
        options.time = time.flatMap { DuplicityTime.parse($0) }
        options.fileToRestore = file
        let restorer = try Restorer(backend: try FileBackend(url: "file://\(Self.vectors)/chain"), target: dest, options: options)
        _ = try await restorer.run()
        return dest
    }

    @Test(arguments: [("20261125T090315Z", "stage0"), ("20261125T090318Z", "stage1"), ("20261125T090321Z", "stage2")])
    func duplicityChainRestoresExactlyAtEachTime(time: String, stage: String) async throws {
        let dest = try await restore(time: time)
        defer { try? FileManager.default.removeItem(atPath: dest) }
        let expected = try String(contentsOfFile: "\(Self.vectors)/expected/\(stage).tsv", encoding: .utf8)
        #expect(try await listing(dest) == expected)
    }

    @Test func latestAndEarlierThanFirstTimes() async throws {
        let latest = try await restore(time: nil)
        defer { try? FileManager.default.removeItem(atPath: latest) }
        #expect(try await listing(latest) == String(contentsOfFile: "\(Self.vectors)/expected/stage2.tsv", encoding: .utf8))
        let early = try await restore(time: "20200101T000000Z")
        defer { try? FileManager.default.removeItem(atPath: early) }
        #expect(try await listing(early) == String(contentsOfFile: "\(Self.vectors)/expected/stage0.tsv", encoding: .utf8))
    }

    @Test func singleFileRestoreWritesJustThatFile() async throws {
        let dest = try await restore(time: "20261125T090318Z", file: "data/big.bin")
        defer { try? FileManager.default.removeItem(atPath: dest) }
        let expected = try String(contentsOfFile: "\(Self.vectors)/expected/stage1.tsv", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("data/big.bin\t") }!
        let sha = expected.split(separator: "\t").last!
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [dest]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let line = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(line.hasPrefix(String(sha)))
    }

    @Test func manifestsParseAndWriteBackByteForByte() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(Self.vectors)/chain") where name.hasSuffix(".manifest") {
            let text = try String(contentsOfFile: "\(Self.vectors)/chain/\(name)", encoding: .utf8)
            let m = try Manifest(parsing: text)
            #expect(m.text == text, "\(name)")
            #expect(m.hostname == "vm" && m.localdir == "srcA")
        }
        #expect(Manifest.quote("weird #%&;'name=.txt") == "\"weird\\x20#%&;\\x27name=.txt\"")
        #expect(Manifest.unquote("\"dir\\x20with\\x20space/caf\u{e9}\\x20\u{fc}.txt\"") == "dir with space/caf\u{e9} \u{fc}.txt")
    }

    @Test func collectionFindsOneChainOfThreeSets() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(Self.vectors)/chain")
        let c = BackupCollection(names: names)
        #expect(c.chains.count == 1)
        #expect(c.chains[0].sets.count == 3)
        #expect(c.chains[0].sets.map { $0.volumes.count } == [2, 1, 1])
        #expect(c.orphans.isEmpty)
        #expect(DuplicityTime.format(c.chains[0].end) == "20261125T090321Z")
        #expect(BackupFileName.parse("duplicity-inc.20261125T090315Z.to.20261125T090318Z.vol1.difftar.gz")?.name
                == "duplicity-inc.20261125T090315Z.to.20261125T090318Z.vol1.difftar.gz")
        #expect(try DuplicityTime.parseSpec("3D", now: 1_000_000) == 1_000_000 - 3 * 86400)
    }
}

@Suite struct EncryptedRestoreTests {
    @Test(arguments: [("20261125T090426Z", "stage0"), ("20261125T090431Z", "stage1")])
    func duplicityGPGChainRestoresWithThePassphrase(time: String, stage: String) async throws {
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("gpg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dest) }
        var options = Restorer.Options()
        options.time = DuplicityTime.parse(time)
        options.gpg = GPG(passphrase: "testpass")
        _ = try await Restorer(backend: try FileBackend(url: "file://\(RestoreTests.vectors)/gpg/chain"), target: dest, options: options).run()
        let expected = try String(contentsOfFile: "\(RestoreTests.vectors)/gpg/expected/\(stage).tsv", encoding: .utf8)
        #expect(try await RestoreTests().listing(dest) == expected)
    }

    @Test func wrongPassphraseIsAClearError() async throws {
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("gpg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dest) }
        var options = Restorer.Options()
        options.gpg = GPG(passphrase: "not it")
        await #expect(throws: BackupError.self) {
            _ = try await Restorer(backend: try FileBackend(url: "file://\(RestoreTests.vectors)/gpg/chain"), target: dest, options: options).run()
        }
    }
}

/// A damaged or incomplete target is a clear error naming what is wrong.
@Suite struct DamagedTargetTests {
    func copyOfVectorChain() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: "\(RestoreTests.vectors)/chain", toPath: dir)
        return dir
    }

    /// The error a restore of the chain in `dir` fails with.
    func restoreError(_ dir: String) async throws -> String {
        let dest = "\(dir)-out"
        defer { try? FileManager.default.removeItem(atPath: dest) }
        do {
            _ = try await Restorer(backend: try FileBackend(url: "file://\(dir)"), target: dest, options: .init()).run()
        } catch {
            return "\(error)"
        }
        Issue.record("the restore should have failed")
        return ""
    }

    @Test func aFlippedByteInAVolumeIsASHA1MismatchNamingTheVolume() async throws {
        let dir = try copyOfVectorChain()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let volume = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("duplicity-full.") && $0.contains(".vol1.") }!
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(volume)"))
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: "\(dir)/\(volume)"))
        let error = try await restoreError(dir)
        #expect(error.contains("SHA1 hash mismatch") && error.contains(volume), "\(error)")
    }

    @Test func aMissingVolumeIsNamed() async throws {
        let dir = try copyOfVectorChain()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let volume = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("duplicity-inc.") && $0.contains(".vol1.") }!
        try FileManager.default.removeItem(atPath: "\(dir)/\(volume)")
        let error = try await restoreError(dir)
        #expect(error.contains("missing volume 1"), "\(error)")
    }
}
