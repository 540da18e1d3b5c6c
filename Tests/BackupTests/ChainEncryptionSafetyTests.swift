import Foundation
import Testing
@testable import Backup
import NimbusCore

/// An incremental is encrypted as its chain is, or refused before anything is written.
@Suite struct ChainEncryptionSafetyTests {
    final class Fixture {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("encsafety-\(UUID().uuidString)").path
        var src: String { "\(root)/src" }
        var cache: String { "\(root)/cache" }
        var target: FileBackend { try! FileBackend(url: "file://\(root)/target") }
        static let t0: Int64 = 1_800_000_000

        init() throws {
            try write("a.txt", "first")
            try write("dir/b.bin", String(repeating: "b", count: 100_000))
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func write(_ path: String, _ text: String) throws {
            let full = "\(src)/\(path)"
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }

        func writer(_ gpg: GPG?, at offset: Int64) throws -> BackupWriter {
            var o = BackupWriter.Options()
            o.gpg = gpg
            o.cacheDirectory = cache
            o.hostname = "host"
            return try BackupWriter(source: src, backend: target, options: o, now: Self.t0 + offset)
        }

        /// Every file of the target and the cache with its bytes.
        func state() throws -> [String: Data] {
            var out: [String: Data] = [:]
            for dir in ["target", "cache"] {
                let base = "\(root)/\(dir)"
                guard let e = FileManager.default.enumerator(atPath: base) else { continue }
                for case let name as String in e {
                    var isDir: ObjCBool = false
                    if FileManager.default.fileExists(atPath: "\(base)/\(name)", isDirectory: &isDir), !isDir.boolValue {
                        out["\(dir)/\(name)"] = try Data(contentsOf: URL(fileURLWithPath: "\(base)/\(name)"))
                    }
                }
            }
            return out
        }

        func refusal(_ run: () async throws -> BackupWriter.Stats) async throws -> String {
            let before = try state()
            do {
                _ = try await run()
                Issue.record("the backup should have been refused")
                return ""
            } catch let error as BackupError {
                #expect(try state() == before, "nothing may be written to the target or the cache")
                #expect(!error.description.contains("\n"), "one line: \(error)")
                return error.description
            }
        }
    }

    @Test func anIncrementalWithTheWrongPassphraseIsRefusedAndWritesNothing() async throws {
        let f = try Fixture()
        _ = try await f.writer(GPG(passphrase: "A"), at: 0).full()
        try f.write("a.txt", "second")
        _ = try await f.writer(GPG(passphrase: "A"), at: 10).incremental()
        try f.write("a.txt", "third")
        try f.write("new.txt", "new")
        let lastManifest = try await f.target.list().filter { $0.hasPrefix("duplicity-inc.") && $0.hasSuffix(".manifest.gpg") }
        #expect(lastManifest.count == 1)
        let expected = "the passphrase does not decrypt this chain's last manifest \(lastManifest[0]): wrong PASSPHRASE? nothing was written"
        #expect(try await f.refusal { try await f.writer(GPG(passphrase: "B"), at: 20).incremental() } == expected)
        #expect(try await f.refusal { try await f.writer(GPG(passphrase: "B"), at: 20).automatic(fullIfOlderThan: nil) } == expected)

        // The right passphrase extends the chain, and the newest state restores with it.
        _ = try await f.writer(GPG(passphrase: "A"), at: 20).incremental()
        var r = Restorer.Options()
        r.gpg = GPG(passphrase: "A")
        let out = "\(f.root)/out"
        _ = try await Restorer(backend: f.target, target: out, options: r).run()
        #expect(try String(contentsOfFile: "\(out)/a.txt", encoding: .utf8) == "third")
        #expect(try String(contentsOfFile: "\(out)/new.txt", encoding: .utf8) == "new")
        #expect(try String(contentsOfFile: "\(out)/dir/b.bin", encoding: .utf8) == String(repeating: "b", count: 100_000))
        #expect(BackupCollection(names: try await f.target.list()).chains.map(\.sets.count) == [3])
    }

    @Test func aNewFullWithAnotherPassphraseIsStillAllowed() async throws {
        let f = try Fixture()
        _ = try await f.writer(GPG(passphrase: "A"), at: 0).full()
        _ = try await f.writer(GPG(passphrase: "B"), at: 10).automatic(fullIfOlderThan: Fixture.t0 + 5)
        _ = try await f.writer(GPG(passphrase: "B"), at: 20).incremental()
        #expect(BackupCollection(names: try await f.target.list()).chains.map(\.sets.count) == [1, 2])
    }

    @Test func anUnencryptedChainIsNotExtendedWithEncryption() async throws {
        let f = try Fixture()
        _ = try await f.writer(nil, at: 0).full()
        let error = try await f.refusal { try await f.writer(GPG(passphrase: "A"), at: 10).incremental() }
        #expect(error.hasPrefix("this chain is unencrypted") && error.contains("--no-encryption") && error.hasSuffix("nothing was written"),
                "\(error)")
        _ = try await f.writer(nil, at: 10).incremental()
    }

    @Test func anEncryptedChainIsNotExtendedWithoutEncryption() async throws {
        let f = try Fixture()
        _ = try await f.writer(GPG(passphrase: "A"), at: 0).full()
        let error = try await f.refusal { try await f.writer(nil, at: 10).automatic(fullIfOlderThan: nil) }
        #expect(error.hasPrefix("this chain is encrypted") && error.contains("set PASSPHRASE") && error.hasSuffix("nothing was written"),
                "\(error)")
    }

    /// Two keys in one keyring, and a second keyring holding only the first key's public part.
    func keyrings(_ root: String) async throws -> (home: String, publicOnly: String) {
        let home = "\(root)/gnupg", pub = "\(root)/gnupg-public"
        for dir in [home, pub] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for user in ["one@example.org", "two@example.org"] {
            try await sh("gpg --homedir '\(home)' --batch --passphrase '' --quick-gen-key \(user) future-default default never")
        }
        try await sh("gpg --homedir '\(home)' --batch --export one@example.org | gpg --homedir '\(pub)' --batch --import")
        return (home, pub)
    }

    func sh(_ command: String) async throws {
        let r = try await ChildProcess.runAwaiting("/bin/sh", ["-c", command])
        guard r.succeeded else { throw BackupError("failed: \(command): \(r.errorText)") }
    }

    @Test func aChainEncryptedToAKeyIsExtendedOnlyToThatKey() async throws {
        let f = try Fixture()
        let (home, publicOnly) = try await keyrings(f.root)
        let one = GPG(passphrase: nil, recipients: ["one@example.org"], signKey: nil, homedir: home)
        _ = try await f.writer(one, at: 0).full()
        let symmetric = try await f.refusal { try await f.writer(GPG(passphrase: "A"), at: 10).incremental() }
        #expect(symmetric.hasPrefix("this chain is encrypted to the key") && symmetric.contains("--encrypt-key"), "\(symmetric)")
        let two = GPG(passphrase: nil, recipients: ["two@example.org"], signKey: nil, homedir: home)
        let other = try await f.refusal { try await f.writer(two, at: 10).incremental() }
        #expect(other.contains("which --encrypt-key does not include"), "\(other)")
        // A host with only the public key goes on (the cache has the chain's metadata in plain).
        _ = try await f.writer(GPG(passphrase: nil, recipients: ["one@example.org"], signKey: nil, homedir: publicOnly), at: 10).incremental()
        // And a passphrase chain is not extended to a key.
        let g = try Fixture()
        _ = try await g.writer(GPG(passphrase: "A"), at: 0).full()
        let toKey = try await g.refusal { try await g.writer(one, at: 10).incremental() }
        #expect(toKey.hasPrefix("this chain is encrypted with a passphrase, not to a key"), "\(toKey)")
    }
}
