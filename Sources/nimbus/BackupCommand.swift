import ArgumentParser
import Backup
import Foundation

/// `nimbus backup …`: duplicity-compatible backups (see docs/backup.md).
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "duplicity-compatible backups to file://, swift:// or cf+http:// targets.",
        discussion: "`nimbus backup SRC URL` backs up (a full when there is no chain or --full-if-older-than says so); "
            + "`nimbus backup URL DEST` restores, as duplicity does.",
        subcommands: [Automatic.self, Full.self, Incremental.self, Restore.self, Verify.self, CollectionStatus.self, ListCurrentFiles.self,
                      RemoveOlderThan.self, RemoveAllButNFull.self, Cleanup.self, Copy.self, MigrateCache.self, Schedule.self],
        defaultSubcommand: Automatic.self)

    /// Options of the verbs that write a backup set.
    struct Common: ParsableArguments {
        @Option(help: "Volume size in MiB.") var volsize: Int64 = 200
        @Flag(help: "Store volumes uncompressed.") var noCompression = false
        @OptionGroup var target: TargetOptions
        @Flag(help: "Extend a chain made on another host or from another source directory.") var allowSourceMismatch = false
        @Flag(help: "Show progress (files, bytes, rate, ETA) even when stderr is not a terminal.") var progress = false
        @OptionGroup var crypto: CryptoOptions
        @OptionGroup var selection: SelectionOptions

        /// The writer of one run.
        func writer(source: String, url: String) throws -> BackupWriter {
            var o = BackupWriter.Options()
            o.gpg = try crypto.forWriting()
            o.volumeSize = volsize * 1024 * 1024
            o.compress = !noCompression
            o.localdir = source
            o.cacheDirectory = target.cacheDirectory(url: url)
            o.selection = try selection.selection(source: source)
            o.allowSourceMismatch = allowSourceMismatch
            #if DEBUG
            // Fault injection for the resume test (debug builds only; release binaries have none):
            // die as a crash would, right after volume N is stored.
            if let n = ProcessInfo.processInfo.environment["NIMBUS_BACKUP_CRASH_AFTER_VOLUME"].flatMap(Int.init) {
                o.afterVolumeStored = { if $0 == n { kill(getpid(), SIGKILL) } }
            }
            #endif
            if progress || isatty(2) != 0 { o.onProgress = { ProgressPrinter.show($0) } }
            o.onWarning = { ProgressPrinter.warn($0) }
            return try BackupWriter(source: source, backend: try target.open(url), options: o)
        }
    }

    /// Prints the statistics; a run that had to skip unreadable files ends with status 2.
    static func finish(_ stats: BackupWriter.Stats) throws {
        print(stats.text)
        if stats.errors > 0 {
            FileHandle.standardError.write(Data("backup finished with \(stats.errors) errors (see the warnings above)\n".utf8))
            throw ExitCode(2)
        }
    }

    struct Automatic: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "auto", abstract: "SRC URL: back up (full or incremental); URL DEST: restore.")
        @Option(help: "Make a full backup when the chain's full set is older than this (e.g. 1M, 2W, 30D).") var fullIfOlderThan: String?
        @Flag(help: "When restoring: go on past unreadable volumes (see restore --help).") var ignoreErrors = false
        @OptionGroup var common: Common
        @Argument var first: String
        @Argument var second: String
        func run() async throws {
            if first.contains("://") && !second.contains("://") {
                let crypto = common.crypto
                let t = common.target
                var forwarded = crypto.noEncryption ? ["--no-encryption"] : []
                forwarded += crypto.encryptKey.flatMap { ["--encrypt-key", $0] } + (crypto.signKey.map { ["--sign-key", $0] } ?? [])
                forwarded += (t.archiveDir.map { ["--archive-dir", $0] } ?? []) + (t.name.map { ["--name", $0] } ?? [])
                forwarded += (t.sslCacertFile.map { ["--ssl-cacert-file", $0] } ?? []) + (t.sslNoCheckCertificate ? ["--ssl-no-check-certificate"] : [])
                forwarded += ["--num-retries", String(t.numRetries)] + (ignoreErrors ? ["--ignore-errors"] : [])
                forwarded += (t.tempdir.map { ["--tempdir", $0] } ?? []) + (t.verbosity.map { ["--verbosity", $0] } ?? [])
                var restore = try Restore.parse([first, second] + forwarded)
                try await restore.run()
                return
            }
            try BackupCommand.checkSource(first)
            let limit = try fullIfOlderThan.map(BackupCommand.parseTime)
            try BackupCommand.finish(try await common.writer(source: first, url: second).automatic(fullIfOlderThan: limit))
        }
    }

    struct Full: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a full backup set.")
        @Argument var source: String
        @Argument var url: String
        @OptionGroup var common: Common
        func run() async throws {
            try BackupCommand.checkSource(source)
            try BackupCommand.finish(try await common.writer(source: source, url: url).full())
        }
    }

    struct Incremental: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an incremental set (a full one when there is no chain).")
        @Option(help: "Make a full backup instead when the chain's full set is older than this.") var fullIfOlderThan: String?
        @Argument var source: String
        @Argument var url: String
        @OptionGroup var common: Common
        func run() async throws {
            try BackupCommand.checkSource(source)
            let limit = try fullIfOlderThan.map(BackupCommand.parseTime)
            try BackupCommand.finish(try await common.writer(source: source, url: url).automatic(fullIfOlderThan: limit))
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restore a chain at a time (default: the latest).")
        @OptionGroup var target: TargetOptions
        @Option(name: [.customShort("t"), .long], help: "now, 20261125T090315Z, 2026-11-25, epoch seconds, or 3D / 2h30m ago.") var time: String?
        @Option(name: [.customShort("r"), .long], help: "Restore only this path.") var fileToRestore: String?
        @Flag(help: "Restore into a non-empty directory.") var force = false
        @Flag(help: "Go on past unreadable volumes: restore everything else, list the files that could not be (exit 2).")
        var ignoreErrors = false
        @OptionGroup var crypto: CryptoOptions
        @Argument var url: String
        @Argument var destination: String
        func run() async throws {
            if !force, let items = try? FileManager.default.contentsOfDirectory(atPath: destination), !items.isEmpty {
                throw ValidationError("Restore destination directory \(destination) already exists. Will not overwrite (use --force).")
            }
            var o = Restorer.Options()
            o.time = try time.map(BackupCommand.parseTime)
            o.fileToRestore = fileToRestore
            o.gpg = crypto.forReading()
            o.ignoreErrors = ignoreErrors
            let r = try await Restorer(backend: try target.open(url), target: destination, options: o).run()
            for v in r.unreadableVolumes { ProgressPrinter.warn(v) }
            for f in r.incompleteFiles { ProgressPrinter.warn("not restored (incomplete): \(f)") }
            print("Restored \(r.files) files (\(r.bytes) bytes) from \(r.setsApplied) sets, \(r.volumes) volumes")
            if r.completedWithErrors {
                FileHandle.standardError.write(Data("nimbus: restore completed with errors: \(r.incompleteFiles.count) files not restored\n".utf8))
                throw ExitCode(2)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore the chain to scratch space and compare it with a local directory (exit 1 on differences).")
        @OptionGroup var target: TargetOptions
        @Option(name: [.customShort("t"), .long], help: "Verify the state at this time (default: the latest).") var time: String?
        @Flag(help: "Compare file contents too, not only type, permissions and times.") var compareData = false
        @OptionGroup var crypto: CryptoOptions
        @OptionGroup var selection: SelectionOptions
        @Argument var url: String
        @Argument var local: String
        func run() async throws {
            var o = Restorer.Options()
            o.time = try time.map(BackupCommand.parseTime)
            o.gpg = crypto.forReading()
            let r = try await Verifier(backend: try target.open(url), local: local, restoreOptions: o, compareData: compareData,
                                       selection: try selection.selection(source: local)).run()
            for d in r.differences { print("Difference found: \(d)") }
            print("Verify complete: \(r.compared) \(r.compared == 1 ? "file" : "files") compared, "
                  + "\(r.differences.count) \(r.differences.count == 1 ? "difference" : "differences") found.")
            if !r.differences.isEmpty { throw ExitCode(1) }
        }
    }

    struct CollectionStatus: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "collection-status", abstract: "List the chains on a target.")
        @OptionGroup var target: TargetOptions
        @Flag(help: "Ignored.") var noEncryption = false
        @Argument var url: String
        func run() async throws {
            let c = BackupCollection(names: try await target.open(url).list())
            for (i, chain) in c.chains.enumerated() {
                print(i == c.chains.count - 1 ? "Found primary backup chain:" : "Secondary backup chain:")
                print("Chain start time: \(DuplicityTime.format(chain.start))")
                print("Chain end time: \(DuplicityTime.format(chain.end))")
                print("Number of contained backup sets: \(chain.sets.count)")
                print("Total number of contained volumes: \(chain.sets.reduce(0) { $0 + $1.volumes.count })")
                print(" Type of backup set:                            Time:      Num volumes:")
                for s in chain.sets {
                    print("                \(s.isFull ? "Full        " : "Incremental ")         \(DuplicityTime.format(s.time))                 \(s.volumes.count)")
                }
            }
            if c.chains.isEmpty { print("No backup chains found") }
            print(c.orphans.isEmpty ? "No orphaned or incomplete backup sets found." : "Found \(c.orphans.count) orphaned or incomplete sets.")
        }
    }

    struct ListCurrentFiles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list-current-files", abstract: "List the files of a chain at a time.")
        @OptionGroup var target: TargetOptions
        @Option(name: [.customShort("t"), .long], help: "List the files at this time (default: the latest).") var time: String?
        @OptionGroup var crypto: CryptoOptions
        @Argument var url: String
        func run() async throws {
            let t = try time.map(BackupCommand.parseTime) ?? Int64.max
            for (path, mtime) in try await Listing.current(backend: try target.open(url), time: t, gpg: crypto.forReading()) {
                print("\(BackupCommand.ctime(mtime)) \(path.isEmpty ? "." : path)")
            }
        }
    }

    struct RemoveOlderThan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-older-than", abstract: "Delete chains older than a time.")
        @OptionGroup var target: TargetOptions
        @Argument var time: String
        @Argument var url: String
        @Flag var force = false
        func run() async throws {
            let t = try BackupCommand.parseTime(time)
            BackupCommand.listDeletions(try await Maintenance.removeOlderThan(t, backend: try target.open(url), force: force), force: force)
        }
    }

    struct RemoveAllButNFull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-all-but-n-full", abstract: "Keep only the newest N chains.")
        @OptionGroup var target: TargetOptions
        @Argument var count: Int
        @Argument var url: String
        @Flag var force = false
        func run() async throws {
            BackupCommand.listDeletions(try await Maintenance.removeAllButNFull(count, backend: try target.open(url), force: force), force: force)
        }
    }

    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete files of incomplete sets.")
        @OptionGroup var target: TargetOptions
        @Argument var url: String
        @Flag var force = false
        func run() async throws {
            BackupCommand.listDeletions(try await Maintenance.cleanup(backend: try target.open(url), force: force), force: force)
        }
    }

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Copy a backup to another target (resumable, SHA1-checked).")
        @Argument var from: String
        @Argument var to: String
        func run() async throws {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-copy-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: work) }
            let (copied, skipped) = try await Maintenance.copy(from: try Backends.open(from), to: try Backends.open(to), work: work,
                                                               gpg: GPG.fromEnvironment())
            for n in copied { print("copied \(n)") }
            print("\(copied.count) files copied, \(skipped.count) already there")
        }
    }

    struct MigrateCache: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "migrate-cache",
                                                        abstract: "Give the archive cache of FROM to TO (after checking TO holds the backup).")
        @Argument var from: String
        @Argument var to: String
        @Option var archiveDir: String?
        func run() async throws {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-migrate-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: work) }
            for line in try await Maintenance.migrateCache(from: from, to: to, source: try Backends.open(from), target: try Backends.open(to),
                                                           archiveDir: archiveDir, work: work) {
                print(line)
            }
        }
    }

    /// The source of a backup must be a directory; a word that is not one is most likely a
    /// mistyped verb (`colection-status`), which is said instead of backing up nothing.
    static func checkSource(_ source: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { throw BackupError("\(source) is not a directory (a backup's source is a directory)") }
            return
        }
        let verbs = configuration.subcommands.map { $0._commandName } + ["full", "incremental", "restore", "verify", "cleanup", "copy", "schedule"]
        if !source.contains("/"), let near = verbs.min(by: { editDistance($0, source) < editDistance($1, source) }),
           editDistance(near, source) <= 3 {
            throw BackupError("\(source) is neither a verb nor a directory — did you mean `nimbus backup \(near)`?")
        }
        throw BackupError("the source directory \(source) does not exist")
    }

    /// Levenshtein distance (short words only).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// A time as duplicity accepts it (now, ISO dates, epoch, intervals back from now).
    static func parseTime(_ spec: String) throws -> Int64 {
        try DuplicityTime.parseSpec(spec, now: Int64(Date().timeIntervalSince1970))
    }

    static func listDeletions(_ names: [String], force: Bool) {
        for n in names { print("\(force ? "Deleting" : "Would delete") \(n)") }
        if names.isEmpty { print("Nothing to delete.") } else if !force { print("Rerun command with --force option to actually delete.") }
    }

    static func ctime(_ t: Int64) -> String {
        var tt = time_t(t)
        var buf = [CChar](repeating: 0, count: 64)
        ctime_r(&tt, &buf)
        return String(cString: buf).trimmingCharacters(in: .newlines)
    }
}
